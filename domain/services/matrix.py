"""The Matrix: mapping Souls to Integrations, with one primary channel per Soul and platform.

Mappings live in the relational store and change inside one transaction (a bulk request is all or nothing); souls and
accounts they refer to live in the document store and are checked before the transaction writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from domain.auth import Principal
from domain.channels.integrations import Integration
from domain.channels.matrix import Mapping, MatrixFilter
from domain.errors import DomainError, InvalidInput, NotFound
from domain.identity.accounts import AccountFilter
from domain.identity.souls import Soul, SoulFilter
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
    mappings: list[dict[str, Any]]  # JSON-ready read model
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class MatrixService:
    def __init__(self, ctx: IdentityContext) -> None:
        self._ctx = ctx

    async def view(self, principal: Principal, filters: MatrixFilter, page: PageRequest) -> MatrixView:
        org = principal.organization_id
        souls = await self._ctx.store.souls.find(org, SoulFilter(search=filters.soul_search), page)
        async with self._ctx.uows.reading() as uow:
            integrations = await uow.integrations.find(
                org, platform=filters.platform, connected_only=filters.connected_only
            )
            mappings = await uow.mappings.rows_for_souls(org, [s.id for s in souls.items], {i.id for i in integrations})
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
        souls = [await self._ctx.store.souls.get(principal.organization_id, m.soul_id) for m in mappings]
        return integration, list(zip(mappings, souls, strict=True))

    async def create(self, principal: Principal, data: MappingInput) -> Mapping:
        async with self._ctx.uows() as uow:
            mapping = await self._create(uow, principal, data)
            await uow.commit()
        return mapping

    async def toggle(self, principal: Principal, data: MappingInput) -> Mapping | None:
        """Creates the mapping when the pair is unmapped, removes it when mapped; returns the mapping or None."""
        async with self._ctx.uows() as uow:
            existing = await uow.mappings.get_pair(principal.organization_id, data.soul_id, data.integration_id)
            if existing:
                await uow.mappings.delete(principal.organization_id, existing.id)
                mapping = None
            else:
                mapping = await self._create(uow, principal, data)
            await uow.commit()
        return mapping

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
        async with self._ctx.uows() as uow:
            mapping = await self._mapping(uow, principal, mapping_id)
            if "account_id" in changes and changes["account_id"] is not None:
                await self._check_account(
                    principal, mapping.integration_id, mapping.platform.value, changes["account_id"]
                )
            if changes.get("is_primary") is True and not mapping.is_primary:
                await uow.mappings.demote_primary(principal.organization_id, mapping.soul_id, mapping.platform)
            updated = mapping.model_copy(update={**changes, "updated_at": self._ctx.clock.now()})
            await uow.mappings.update(updated)
            await uow.commit()
        return updated

    async def delete(self, principal: Principal, mapping_id: str) -> None:
        async with self._ctx.uows() as uow:
            await self._mapping(uow, principal, mapping_id)
            await uow.mappings.delete(principal.organization_id, mapping_id)
            await uow.commit()

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
        org = principal.organization_id
        await self._soul(principal, data.soul_id, field="soulId")
        integration = await self._integration(uow, principal, data.integration_id, field="integrationId")
        platform = integration.provider_identifier
        account_id = data.account_id
        if account_id is not None:
            await self._check_account(principal, integration.id, platform.value, account_id)
        else:
            # The channel's own account, when one is linked to it.
            linked = await self._ctx.store.accounts.find(
                org, AccountFilter(integration_id=integration.id), PageRequest(limit=1)
            )
            account_id = linked.items[0].id if linked.items else None
        primary = data.is_primary
        if primary is None:
            primary = not await uow.mappings.has_primary(org, data.soul_id, platform)
        elif primary:
            await uow.mappings.demote_primary(org, data.soul_id, platform)
        now = self._ctx.clock.now()
        mapping = Mapping(
            id=new_id(), organization_id=org, soul_id=data.soul_id, integration_id=integration.id, platform=platform,
            account_id=account_id, is_primary=primary, priority=data.priority, notes=data.notes,
            created_at=now, updated_at=now,
        )  # fmt: skip
        await uow.mappings.add(mapping)
        return mapping

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

    async def _soul(self, principal: Principal, soul_id: str, *, field: str | None = None) -> Soul:
        soul = await self._ctx.store.souls.get(principal.organization_id, soul_id)
        if soul is None:
            if field:
                raise InvalidInput(f"Soul {soul_id!r} does not exist.", field=field, code="soul_not_found")
            raise NotFound("Soul", soul_id)
        return soul

    async def _integration(
        self, uow: UnitOfWork, principal: Principal, integration_id: str, *, field: str | None = None
    ) -> Integration:
        integration = await uow.integrations.get(principal.organization_id, integration_id)
        if integration is None:
            if field:
                raise InvalidInput(
                    f"Integration {integration_id!r} does not exist.", field=field, code="integration_not_found"
                )
            raise NotFound("Integration", integration_id)
        return integration

    async def _mapping(self, uow: UnitOfWork, principal: Principal, mapping_id: str) -> Mapping:
        mapping = await uow.mappings.get(principal.organization_id, mapping_id)
        if mapping is None:
            raise NotFound("Mapping", mapping_id)
        return mapping
