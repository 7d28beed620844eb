"""Deleting a Soul or the organization, and exporting the organization's data.

A Soul with nothing attached is deleted at once. One with accounts, mappings or posts is deleted by the
SoulDeletionWorkflow: DELETE without `cascade` answers 409 naming them; with `cascade` the soul turns `deleting` (it
takes no new posts, mappings or changes) and the workflow removes everything, then the soul. DELETE on a soul that is
already `deleting` starts (or joins) its workflow again, so a deletion whose start failed can always be retried.

The organization is deleted by the OrganizationDeletionWorkflow. From the moment it starts, every request of the
organization answers 410 Gone (`organization_deleted`): this process at once, other API processes within the principal
cache's time to live (AUTH_CACHE_TTL_S).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from domain.audit import AuditEntry, AuditFilter
from domain.auth import ActorType, Principal, Role
from domain.channels.integrations import Integration
from domain.channels.matrix import Mapping
from domain.errors import Forbidden, InvalidInput, NotFound, Unavailable
from domain.identity.accounts import Account, AccountFilter
from domain.identity.personas import Persona
from domain.identity.ports import InUse
from domain.identity.proxies import Proxy, ProxyFilter
from domain.identity.souls import Soul, SoulFilter, SoulStatus
from domain.lifecycle import LifecycleWorkflows
from domain.organizations import Organization, User
from domain.pagination import MAX_LIMIT, Cursor, Page, PageRequest
from domain.publishing.posts import Delivery, PostFilter
from domain.services import audit
from domain.services.identity.souls import IdentityContext, mark_soul_deleting
from domain.services.posts import PostView

log = logging.getLogger(__name__)

T = TypeVar("T")

# How many ids a 409 names per kind of dependent.
_BLOCKING_SHOWN = 50


@dataclass(frozen=True)
class SoulDeletion:
    """None: the soul is gone already. Otherwise the workflow that is deleting it."""

    workflow_id: str | None


@dataclass
class OrganizationExport:
    organization: Organization
    users: list[User]
    souls: list[Soul]
    personas: list[Persona]
    accounts: list[Account]
    proxies: list[Proxy]
    integrations: list[Integration]
    mappings: list[Mapping]
    posts: list[PostView]
    audit: list[AuditEntry]


async def _all(fetch: Callable[[PageRequest], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    page = PageRequest(limit=MAX_LIMIT)
    while True:
        result = await fetch(page)
        for item in result.items:
            yield item
        if result.next_cursor is None:
            return
        page = PageRequest(limit=MAX_LIMIT, after=Cursor.decode(result.next_cursor))


class LifecycleService:
    def __init__(
        self,
        ctx: IdentityContext,
        workflows: LifecycleWorkflows,
        *,
        on_access_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._ctx = ctx
        self._workflows = workflows
        self._access_changed = on_access_changed

    # --- a soul ------------------------------------------------------------------------------------------------

    async def delete_soul(self, principal: Principal, soul_id: str, *, cascade: bool, ip: str | None) -> SoulDeletion:
        org = principal.organization_id
        soul = await self._ctx.store.souls.get(org, soul_id)
        if soul is None:
            raise NotFound("Soul", soul_id)
        if soul.status is not SoulStatus.DELETING:
            blocking = await self._dependents(soul)
            if not blocking:
                await self._ctx.store.souls.delete(org, soul_id, cascade=False)
                await audit.record_now(
                    self._ctx.uows, organization_id=org, actor=principal, action="soul.delete", target_type="soul",
                    target_id=soul_id, ip=ip, details={"deletedAccountIds": []},
                )  # fmt: skip
                return SoulDeletion(workflow_id=None)
            if not cascade:
                accounts = blocking.get("accountIds", [])
                raise InUse(
                    "The soul still has accounts, mappings or posts; pass cascade=true to delete them with it."
                    if not accounts
                    else f"The soul still has {len(accounts)} account(s); delete or move them, or pass cascade=true.",
                    code="soul_has_accounts" if accounts else "soul_in_use",
                    **blocking,
                )
        workflow_id = await self._start(self._workflows.start_soul_deletion(org, soul_id, principal))
        # After the start, so a failed start changes nothing; the workflow marks the soul too, in its first step.
        if soul.status is not SoulStatus.DELETING:
            # None: the workflow was quicker and has deleted it already
            await mark_soul_deleting(self._ctx.store, self._ctx.clock, org, soul_id)
            await audit.record_now(
                self._ctx.uows, organization_id=org, actor=principal, action="soul.delete_started",
                target_type="soul", target_id=soul_id, ip=ip, details={"workflowId": workflow_id},
            )  # fmt: skip
        return SoulDeletion(workflow_id=workflow_id)

    async def _dependents(self, soul: Soul) -> dict[str, list[str]]:
        org = soul.organization_id
        accounts = list(soul.account_ids)
        if not accounts:
            found = await self._ctx.store.accounts.find(
                org, AccountFilter(soul_id=soul.id), PageRequest(limit=_BLOCKING_SHOWN)
            )
            accounts = [a.id for a in found.items]
        async with self._ctx.uows.reading() as uow:
            mappings = await uow.mappings.for_souls(org, [soul.id])
            posts = await uow.posts.list(org, PostFilter(soul_id=soul.id), PageRequest(limit=_BLOCKING_SHOWN))
        blocking = {
            "accountIds": accounts[:_BLOCKING_SHOWN],
            "mappingIds": [m.id for m in mappings][:_BLOCKING_SHOWN],
            "postIds": [p.id for p in posts.items],
        }
        return {name: ids for name, ids in blocking.items() if ids}

    # --- the organization --------------------------------------------------------------------------------------

    async def delete_organization(self, principal: Principal, confirm: str, *, ip: str | None) -> str:
        if principal.role is not Role.OWNER:
            raise Forbidden("Only an owner can delete the organization.", code="owner_required")
        org = principal.organization_id
        async with self._ctx.uows.reading() as uow:
            organization = await uow.organizations.get(org)
        if organization is None:
            raise NotFound("Organization", org)
        if confirm.strip() != organization.name:
            raise InvalidInput(
                "Type the organization's name exactly to confirm its deletion.",
                field="confirm",
                code="confirmation_mismatch",
            )
        workflow_id = await self._start(self._workflows.start_organization_deletion(org, principal))
        async with self._ctx.uows() as uow:
            current = await uow.organizations.get(org)
            if current is not None and current.deletion_started_at is None:
                now = self._ctx.clock.now()
                await uow.organizations.update(current.model_copy(update={"deletion_started_at": now}))
                # Erased with the rest by the workflow; until then it says who asked.
                await audit.record(
                    uow, organization_id=org, actor=principal, action="organization.delete_started",
                    target_type="organization", target_id=org, ip=ip, details={"workflowId": workflow_id},
                )  # fmt: skip
            await uow.commit()
        self._access_changed()
        log.info("deletion of organization %s started by %s (%s)", org, principal.actor_id, workflow_id)
        return workflow_id

    async def _start(self, starting: Awaitable[str]) -> str:
        try:
            return await starting
        except Exception as exc:
            log.warning("could not start a deletion workflow", exc_info=True)
            raise Unavailable(
                "The workflow service is not answering; nothing was deleted. Retry shortly.",
                code="temporal_unavailable",
            ) from exc

    # --- export ------------------------------------------------------------------------------------------------

    async def export(self, principal: Principal) -> OrganizationExport:
        """Everything the organization holds, as stored (the API leaves the secrets out)."""
        if not principal.is_admin:
            raise Forbidden("Only owners and admins can export the organization's data.", code="role_required")
        org = principal.organization_id
        store = self._ctx.store
        souls = [s async for s in _all(lambda p: store.souls.find(org, SoulFilter(), p))]
        personas = [p async for p in _all(lambda p: store.personas.find(org, p))]
        accounts = [a async for a in _all(lambda p: store.accounts.find(org, AccountFilter(), p))]
        proxies = [x async for x in _all(lambda p: store.proxies.find(org, ProxyFilter(), p))]
        async with self._ctx.uows.reading() as uow:
            organization = await uow.organizations.get(org)
            if organization is None:
                raise NotFound("Organization", org)
            users = [u async for u in _all(lambda p: uow.users.list(org, p))]
            integrations = await uow.integrations.find(org)
            mappings: list[Mapping] = []
            soul_ids = [s.id for s in souls]
            for start in range(0, len(soul_ids), MAX_LIMIT):
                mappings += await uow.mappings.for_souls(org, soul_ids[start : start + MAX_LIMIT])
            posts = [p async for p in _all(lambda p: uow.posts.list(org, PostFilter(), p))]
            deliveries: list[Delivery] = []
            for start in range(0, len(posts), MAX_LIMIT):
                chunk = [p.id for p in posts[start : start + MAX_LIMIT]]
                deliveries += await uow.deliveries.for_posts(org, chunk)
            entries = [e async for e in _all(lambda p: uow.audit.list(org, AuditFilter(), p))]
        by_post: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_post.setdefault(delivery.post_id, []).append(delivery)
        views = [PostView(p, by_post.get(p.id, [])) for p in posts]
        return OrganizationExport(
            organization=organization, users=users, souls=souls, personas=personas, accounts=accounts,
            proxies=proxies, integrations=integrations, mappings=mappings, posts=views, audit=entries,
        )  # fmt: skip


class _IntegrationDeleting(Protocol):
    async def delete(self, principal: Principal, integration_id: str, *, ip: str | None) -> None: ...


class IntegrationDisconnector:
    """The organization's deletion disconnects each channel exactly as DELETE /integrations/:id does, as the system."""

    def __init__(self, integrations: _IntegrationDeleting) -> None:
        self._integrations = integrations

    async def disconnect(self, organization_id: str, integration_id: str) -> None:
        system = Principal(actor_type=ActorType.SYSTEM, actor_id="organization-deletion",
                           organization_id=organization_id, role=Role.OWNER)  # fmt: skip
        with contextlib.suppress(NotFound):
            await self._integrations.delete(system, integration_id, ip=None)
