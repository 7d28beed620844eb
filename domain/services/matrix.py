"""The Matrix: mapping Souls to Integrations, with one primary channel per Soul and platform.

Mappings live in the relational store; souls and accounts they refer to live in the document store and are checked
first. A single mapping operation is then one statement or one short transaction of the MatrixStore (so on SQLite no
document read ever runs while the write lock is held); a bulk request is one transaction, all or nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from domain.auth import Principal
from domain.channels.integrations import Integration
from domain.channels.matrix import Mapping, MatrixFilter
from domain.channels.ports import MatrixStore, NewMapping
from domain.errors import Conflict, DomainError, InvalidInput, NotFound
from domain.identity.souls import Soul, SoulFilter, ensure_accepts_work
from domain.ids import new_id
from domain.pagination import PageRequest
from domain.ports import UnitOfWork
from domain.services.identity.souls import IdentityContext


@dataclass(frozen=True)
class MappingInput:
    soul_id: str
    integration_id: str
    account_id: str | None = None
    is_primary: bool | None = None  # None: primary when the soul has none yet for the platform
    priority: int = 0
    notes: str | None = None


@dataclass(frozen=True)
class BulkOperation:
    op: Literal["create", "delete", "toggle"]
    mapping: MappingInput


@dataclass
class BulkResult:
    index: int
    op: str
    status: Literal["created", "deleted", "unchanged", "failed", "not_run"]
    mapping: Mapping | None = None
    error: dict[str, Any] | None = None


class BulkFailed(DomainError):
    code = "bulk_failed"
    title = "Bulk request failed"

    def __init__(self, results: list[BulkResult]) -> None:
        super().__init__("An operation failed, so none was applied; see `results`.")
        self.results = results


@dataclass
class MatrixView:
    souls: list[Soul]
    integrations: list[Integration]
    # Soul id -> its mappings to these integrations as JSON (the objects of its `mappings` array, comma-separated):
    # thousands of rows, so they are never turned into Python objects.
    mappings: dict[str, str]
    next_cursor: str | None = None


def _mapping_exists() -> Conflict:
    return Conflict("This soul is already mapped to this integration.", code="mapping_exists")


# A toggle meeting a concurrent toggle of the same pair takes the other's result as its starting point this often.
_TOGGLE_ATTEMPTS = 5
# Document reads in flight at once for a channel's souls.
_SOUL_READS = 8


class MatrixService:
    def __init__(self, ctx: IdentityContext, matrix: MatrixStore) -> None:
        self._ctx = ctx
        self._matrix = matrix

    async def view(self, principal: Principal, filters: MatrixFilter, page: PageRequest) -> MatrixView:
        org, platform, connected_only = principal.organization_id, filters.platform, filters.connected_only
        # The souls (document store) and the integrations (relational store) are read at the same time.
        souls, integrations = await asyncio.gather(
            self._ctx.store.souls.find(org, SoulFilter(search=filters.soul_search), page),
            self._matrix.integrations(org, platform=platform, connected_only=connected_only),
        )
        soul_ids = [s.id for s in souls.items]
        mappings = await self._matrix.mappings(org, soul_ids, platform=platform, connected_only=connected_only)
        return MatrixView(
            souls=souls.items, integrations=integrations, mappings=mappings, next_cursor=souls.next_cursor
        )

    async def for_soul(self, principal: Principal, soul_id: str) -> tuple[Soul, list[tuple[Mapping, Integration]]]:
        soul = await self._soul(principal, soul_id)
        async with self._ctx.uows.reading() as uow:
            mappings = await uow.mappings.for_souls(principal.organization_id, [soul_id])
            integrations = {i.id: i for i in await uow.integrations.find(principal.organization_id)}
        return soul, [(m, integrations[m.integration_id]) for m in mappings if m.integration_id in integrations]

    async def for_integration(
        self, principal: Principal, integration_id: str
    ) -> tuple[Integration, list[tuple[Mapping, Soul | None]]]:
        async with self._ctx.uows.reading() as uow:
            integration = await self._integration(uow, principal, integration_id)
            mappings = await uow.mappings.for_integration(principal.organization_id, integration_id)
        souls = await self._souls(principal.organization_id, [m.soul_id for m in mappings])
        return integration, list(zip(mappings, souls, strict=True))

    async def create(self, principal: Principal, data: MappingInput) -> Mapping:
        mapping = await self._add(principal, data)
        if mapping is None:
            await self._integration_for(principal, data.integration_id)  # no such integration: that is the error
            raise _mapping_exists()
        return mapping

    async def toggle(self, principal: Principal, data: MappingInput) -> Mapping | None:
        """Creates the mapping when the pair is unmapped, removes it when mapped; returns the mapping or None."""
        org = principal.organization_id
        # Unmapping first, without reading the pair: a mapped pair costs one statement, an unmapped one no more than
        # a read would have (the delete finds nothing, then the create runs).
        mapped = True
        for _ in range(_TOGGLE_ATTEMPTS):
            if mapped:
                if await self._matrix.delete_pair(org, data.soul_id, data.integration_id):
                    return None
            else:
                mapping = await self._add(principal, data)
                if mapping is not None:
                    return mapping
                await self._integration_for(principal, data.integration_id)
            mapped = not mapped  # a concurrent toggle got there first: this one applies on top of it
        raise Conflict("The pair was toggled concurrently several times; retry.", code="concurrent_change")

    async def bulk(self, principal: Principal, operations: list[BulkOperation]) -> list[BulkResult]:
        results = [BulkResult(index=i, op=o.op, status="not_run") for i, o in enumerate(operations)]
        async with self._ctx.uows() as uow:
            for result, operation in zip(results, operations, strict=True):
                try:
                    await self._apply(uow, principal, operation, result)
                except DomainError as exc:
                    result.status = "failed"
                    result.error = {"code": exc.code, "detail": exc.detail}
                    await uow.rollback()
                    raise BulkFailed(results) from exc
            await uow.commit()
        return results

    async def update(self, principal: Principal, mapping_id: str, changes: dict[str, Any]) -> Mapping:
        """`changes`: priority, notes, account_id, and is_primary (only True: the other primary is demoted)."""
        org = principal.organization_id
        if changes.get("account_id") is not None:
            mapping = await self._matrix.get(org, mapping_id)
            if mapping is None:
                raise NotFound("Mapping", mapping_id)
            await self._check_account(principal, mapping.integration_id, mapping.platform.value, changes["account_id"])
        updated = await self._matrix.update(org, mapping_id, changes, self._ctx.clock.now())
        if updated is None:
            raise NotFound("Mapping", mapping_id)
        return updated

    async def delete(self, principal: Principal, mapping_id: str) -> None:
        if not await self._matrix.delete(principal.organization_id, mapping_id):
            raise NotFound("Mapping", mapping_id)

    async def set_primary(self, principal: Principal, mapping_id: str) -> Mapping:
        return await self.update(principal, mapping_id, {"is_primary": True})

    # --- helpers ---------------------------------------------------------------------------------------------------

    async def _apply(self, uow: UnitOfWork, principal: Principal, operation: BulkOperation, result: BulkResult) -> None:
        data = operation.mapping
        existing = await uow.mappings.get_pair(principal.organization_id, data.soul_id, data.integration_id)
        if operation.op == "create" or (operation.op == "toggle" and existing is None):
            result.mapping = await self._create(uow, principal, data)
            result.status = "created"
        elif existing is not None:
            await uow.mappings.delete(principal.organization_id, existing.id)
            result.mapping, result.status = existing, "deleted"
        else:
            result.status = "unchanged"  # deleting a pair that is not mapped

    async def _create(self, uow: UnitOfWork, principal: Principal, data: MappingInput) -> Mapping:
        """A create inside a bulk request's transaction."""
        new = await self._draft(principal, data)
        platform = (await self._integration_for(principal, data.integration_id)).provider_identifier
        primary = data.is_primary
        if primary is None:
            primary = not await uow.mappings.has_primary(new.organization_id, new.soul_id, platform)
        elif primary:
            await uow.mappings.demote_primary(new.organization_id, new.soul_id, platform)
        mapping = Mapping(
            id=new.id, organization_id=new.organization_id, soul_id=new.soul_id, integration_id=new.integration_id,
            platform=platform, account_id=new.account_id, is_primary=primary, priority=new.priority, notes=new.notes,
            created_at=new.created_at, updated_at=new.created_at,
        )  # fmt: skip
        await uow.mappings.add(mapping)
        return mapping

    async def _add(self, principal: Principal, data: MappingInput) -> Mapping | None:
        """A single mapping create: the mapping, or None when the pair is mapped already or there is no such
        integration; a soul that is missing or being deleted is the error it is."""
        if data.account_id is None and self._matrix.holds_souls:
            # The store checks the soul and finds the channel's account in the insert itself: one round trip.
            draft = self._new(principal, data, account_id=None)
            mapping = await self._matrix.add_checked(draft, primary=data.is_primary)
            if mapping is None:  # a soul that does not take the mapping: that is the error
                ensure_accepts_work(await self._soul(principal, data.soul_id, field="soulId"))
            return mapping
        return await self._matrix.add(await self._draft(principal, data), primary=data.is_primary)

    def _new(self, principal: Principal, data: MappingInput, account_id: str | None) -> NewMapping:
        return NewMapping(
            id=new_id(), organization_id=principal.organization_id, soul_id=data.soul_id,
            integration_id=data.integration_id, account_id=account_id, priority=data.priority, notes=data.notes,
            created_at=self._ctx.clock.now(),
        )  # fmt: skip

    async def _draft(self, principal: Principal, data: MappingInput) -> NewMapping:
        """The mapping to create, its soul and account checked; the store finds the integration when it writes."""
        org = principal.organization_id
        ensure_accepts_work(await self._soul(principal, data.soul_id, field="soulId"))
        account_id = data.account_id
        if account_id is not None:
            integration = await self._integration_for(principal, data.integration_id)
            await self._check_account(principal, integration.id, integration.provider_identifier.value, account_id)
        else:
            # The channel's own account, when one is linked to it.
            linked = await self._ctx.store.accounts.linked_to(org, data.integration_id)
            account_id = linked.id if linked is not None else None
        return self._new(principal, data, account_id)

    async def _integration_for(self, principal: Principal, integration_id: str) -> Integration:
        integration = await self._matrix.integration(principal.organization_id, integration_id)
        if integration is None:
            raise InvalidInput(
                f"Integration {integration_id!r} does not exist.", field="integrationId", code="integration_not_found"
            )
        return integration

    async def _check_account(self, principal: Principal, integration_id: str, platform: str, account_id: str) -> None:
        """A mapping's account is the channel's account: same platform, and not linked to another channel."""
        account = await self._ctx.store.accounts.get(principal.organization_id, account_id)
        if account is None:
            raise InvalidInput(f"Account {account_id!r} does not exist.", field="accountId", code="account_not_found")
        if account.platform.value != platform or account.integration_id not in (None, integration_id):
            raise InvalidInput(
                "The account must be on the integration's platform and not linked to another integration.",
                field="accountId",
                code="account_mismatch",
            )

    async def _souls(self, organization_id: str, soul_ids: list[str]) -> list[Soul | None]:
        """Souls by id, several reads in flight at once: the document store reads one soul at a time."""
        reads = asyncio.Semaphore(_SOUL_READS)

        async def read(soul_id: str) -> Soul | None:
            async with reads:
                return await self._ctx.store.souls.get(organization_id, soul_id)

        return list(await asyncio.gather(*(read(soul_id) for soul_id in soul_ids)))

    async def _soul(self, principal: Principal, soul_id: str, *, field: str | None = None) -> Soul:
        soul = await self._ctx.store.souls.get(principal.organization_id, soul_id)
        if soul is None:
            if field:
                raise InvalidInput(f"Soul {soul_id!r} does not exist.", field=field, code="soul_not_found")
            raise NotFound("Soul", soul_id)
        return soul

    async def _integration(self, uow: UnitOfWork, principal: Principal, integration_id: str) -> Integration:
        integration = await uow.integrations.get(principal.organization_id, integration_id)
        if integration is None:
            raise NotFound("Integration", integration_id)
        return integration
