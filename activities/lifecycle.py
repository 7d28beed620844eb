"""Deletion activities: the steps of the SoulDeletionWorkflow and the OrganizationDeletionWorkflow.

Every step is idempotent and reads the current state instead of trusting an earlier step: a run killed after any
step, or in the middle of one, is finished by the next attempt or the next run with nothing left behind. Inputs and
results carry ids and counts only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.auth import ActorType
from domain.clock import Clock
from domain.errors import Conflict, NotFound
from domain.identity.accounts import AccountFilter
from domain.identity.ports import DocumentStore
from domain.identity.proxies import ProxyFilter
from domain.identity.souls import SoulFilter
from domain.lifecycle import ChannelDisconnector, LifecycleControls, LifecycleRecords
from domain.pagination import Cursor, PageRequest
from domain.ports import UnitOfWorkFactory
from domain.publishing.posts import Delivery, DeliveryState, PostFilter
from domain.publishing.workflows import PostWorkflows, WorkflowGone
from domain.services import audit
from domain.services.identity.souls import mark_soul_deleting

# Rows per bulk delete: each batch is one short transaction.
BATCH = 200
_PAGE = PageRequest(limit=BATCH)


class SoulRef(BaseModel):
    organization_id: str
    soul_id: str
    actor_type: ActorType = ActorType.SYSTEM
    actor_id: str | None = None
    # For the last step's audit entry: the accounts the earlier steps deleted.
    account_ids: list[str] = []


class SoulPlan(BaseModel):
    account_ids: list[str]


class AccountRef(BaseModel):
    organization_id: str
    soul_id: str
    account_id: str


class SoulDeleted(BaseModel):
    existed: bool
    account_ids: list[str] = []


class OrganizationRef(BaseModel):
    organization_id: str
    limit: int = 20


class IntegrationRef(BaseModel):
    organization_id: str
    integration_id: str


class DocumentsRef(BaseModel):
    organization_id: str
    kind: str  # proxies | personas


class Purged(BaseModel):
    rows: dict[str, int] = {}


class LifecycleActivities:
    def __init__(
        self,
        store: DocumentStore,
        uows: UnitOfWorkFactory,
        records: LifecycleRecords,
        posts: PostWorkflows,
        controls: LifecycleControls,
        channels: ChannelDisconnector,
        clock: Clock,
    ) -> None:
        self._store = store
        self._uows = uows
        self._records = records
        self._posts = posts
        self._controls = controls
        self._channels = channels
        self._clock = clock

    def all(self) -> list[Callable[..., Any]]:
        """Every step, for a worker's activity list."""
        return [
            self.mark_soul_deleting, self.remove_soul_mappings, self.stop_soul_posts, self.delete_soul_posts,
            self.delete_soul_account, self.delete_soul, self.mark_organization_deleting, self.organization_soul_ids,
            self.organization_integration_ids, self.disconnect_integration, self.delete_organization_documents,
            self.purge_organization_records, self.delete_organization,
        ]  # fmt: skip

    # --- a soul ------------------------------------------------------------------------------------------------

    @activity.defn(name="mark_soul_deleting")
    async def mark_soul_deleting(self, ref: SoulRef) -> SoulPlan | None:
        """Mark the soul `deleting` and name its accounts; None when the soul is gone (an earlier run finished)."""
        soul = await mark_soul_deleting(self._store, self._clock, ref.organization_id, ref.soul_id)
        if soul is None:
            return None
        return SoulPlan(account_ids=await self._account_ids(ref.organization_id, ref.soul_id, soul.account_ids))

    @activity.defn(name="remove_soul_mappings")
    async def remove_soul_mappings(self, ref: SoulRef) -> int:
        return await self._records.delete_soul_mappings(ref.organization_id, ref.soul_id)

    @activity.defn(name="stop_soul_posts")
    async def stop_soul_posts(self, ref: SoulRef) -> int:
        """Cancel the soul's waiting deliveries and stop the workflows of finished ones (metrics collection). A
        delivery that is publishing right now is left to finish: the activity fails retryably until none is."""
        cancelled, publishing = await self._stop_posts(ref)
        if publishing:
            raise ApplicationError(
                f"{publishing} delivery(ies) of the soul are publishing; waiting for them to finish",
                type="DeliveriesPublishing",
                next_retry_delay=timedelta(seconds=2),
            )
        return cancelled

    @activity.defn(name="delete_soul_posts")
    async def delete_soul_posts(self, ref: SoulRef) -> int:
        deleted = 0
        while batch := await self._records.delete_soul_posts(ref.organization_id, ref.soul_id, BATCH):
            deleted += batch
            activity.heartbeat(deleted)
        return deleted

    @activity.defn(name="delete_soul_account")
    async def delete_soul_account(self, ref: AccountRef) -> bool:
        """Delete the account's warming schedule, forget it in mappings, unlink its channel and release its proxy,
        then delete it (its sealed credentials go with it). False when it was gone already."""
        return await self._delete_account(ref.organization_id, ref.account_id)

    @activity.defn(name="delete_soul")
    async def delete_soul(self, ref: SoulRef) -> SoulDeleted:
        """The last sweep, then the soul: anything attached since the earlier steps ran (a request that read the
        soul before it turned `deleting`) is removed first, so nothing can be left pointing at a deleted soul."""
        org = ref.organization_id
        if await self._store.souls.get(org, ref.soul_id) is None:
            return SoulDeleted(existed=False)
        await self._records.delete_soul_mappings(org, ref.soul_id)
        _, publishing = await self._stop_posts(ref)
        if publishing:
            raise ApplicationError("a post of the soul started publishing; waiting for it", type="DeliveriesPublishing",
                                   next_retry_delay=timedelta(seconds=2))  # fmt: skip
        await self.delete_soul_posts(ref)
        accounts = await self._account_ids(org, ref.soul_id, [])
        for account_id in accounts:
            await self._delete_account(org, account_id)
        try:
            await self._store.souls.delete(org, ref.soul_id, cascade=True)
        except NotFound:
            return SoulDeleted(existed=False)
        deleted = list(dict.fromkeys(ref.account_ids + accounts))
        await audit.record_now(
            self._uows, organization_id=org, actor_type=ref.actor_type, actor_id=ref.actor_id, action="soul.delete",
            target_type="soul", target_id=ref.soul_id, details={"deletedAccountIds": deleted},
        )  # fmt: skip
        return SoulDeleted(existed=True, account_ids=deleted)

    async def _account_ids(self, organization_id: str, soul_id: str, known: list[str]) -> list[str]:
        """The soul's accounts by their `soulId` (the source of truth), plus any the soul still names."""
        ids = list(known)
        request = _PAGE
        while True:
            page = await self._store.accounts.find(organization_id, AccountFilter(soul_id=soul_id), request)
            ids += [a.id for a in page.items if a.id not in ids]
            if page.next_cursor is None:
                return ids
            request = PageRequest(limit=BATCH, after=Cursor.decode(page.next_cursor))

    async def _delete_account(self, organization_id: str, account_id: str) -> bool:
        # Schedules and references first: a retry after the account is gone has nothing left to find them by.
        await self._controls.delete_warming_schedule(account_id)
        await self._records.clear_account_references(organization_id, account_id)
        account = await self._store.accounts.get(organization_id, account_id)
        if account is None:
            return False
        if account.integration_id is not None or account.proxy_id is not None:
            # Unlinking and releasing through the store keeps the channel link and `assignedAccountIds` consistent.
            await self._store.accounts.update(account.model_copy(
                update={"integration_id": None, "proxy_id": None, "updated_at": self._clock.now()}))  # fmt: skip
        try:
            await self._store.accounts.delete(organization_id, account_id)
        except NotFound:
            return False
        activity.heartbeat(account_id)
        return True

    async def _stop_posts(self, ref: SoulRef) -> tuple[int, int]:
        """(cancelled, still publishing) over every post of the soul."""
        org = ref.organization_id
        cancelled = publishing = 0
        page = _PAGE
        while True:
            async with self._uows.reading() as uow:
                posts = await uow.posts.list(org, PostFilter(soul_id=ref.soul_id), page)
                deliveries = await uow.deliveries.for_posts(org, [p.id for p in posts.items])
            for delivery in deliveries:
                outcome = await self._stop_delivery(delivery)
                cancelled += outcome == "cancelled"
                publishing += outcome == "publishing"
            activity.heartbeat(cancelled, publishing)
            if posts.next_cursor is None:
                return cancelled, publishing
            page = PageRequest(limit=BATCH, after=Cursor.decode(posts.next_cursor))

    async def _stop_delivery(self, delivery: Delivery) -> str:
        if delivery.state == DeliveryState.QUEUE:
            try:
                await self._posts.cancel(delivery)
            except WorkflowGone:  # never started, or ended: the record is all there is
                pass
            except Conflict:  # it left the timer a moment ago: publishing now
                return "publishing"
            async with self._uows() as uow:
                current = await uow.deliveries.get(delivery.organization_id, delivery.id)
                if current is not None and current.state == DeliveryState.QUEUE:
                    await uow.deliveries.update(current.model_copy(update={
                        "state": DeliveryState.CANCELLED, "last_error": "the soul was deleted",
                        "error_code": "SoulDeleted", "updated_at": self._clock.now(),
                    }))  # fmt: skip
                await uow.commit()
            return "cancelled"
        if delivery.state == DeliveryState.PUBLISHING:
            # A publish in flight is never cut off: the platform may be creating the post right now.
            return "publishing" if await self._posts.is_running(delivery) else "finished"
        await self._controls.stop_post_workflow(delivery)
        return "finished"

    # --- the organization --------------------------------------------------------------------------------------

    @activity.defn(name="mark_organization_deleting")
    async def mark_organization_deleting(self, ref: OrganizationRef) -> bool:
        """False when the organization is gone already (an earlier run finished)."""
        async with self._uows() as uow:
            organization = await uow.organizations.get(ref.organization_id)
            if organization is None:
                return False
            if organization.deletion_started_at is None:
                now = self._clock.now()
                await uow.organizations.update(organization.model_copy(update={"deletion_started_at": now}))
                await uow.commit()
        return True

    @activity.defn(name="organization_soul_ids")
    async def organization_soul_ids(self, ref: OrganizationRef) -> list[str]:
        souls = await self._store.souls.find(ref.organization_id, SoulFilter(), PageRequest(limit=ref.limit))
        return [s.id for s in souls.items]

    @activity.defn(name="organization_integration_ids")
    async def organization_integration_ids(self, ref: OrganizationRef) -> list[str]:
        async with self._uows.reading() as uow:
            return [i.id for i in await uow.integrations.find(ref.organization_id)]

    @activity.defn(name="disconnect_organization_integration")
    async def disconnect_integration(self, ref: IntegrationRef) -> None:
        await self._channels.disconnect(ref.organization_id, ref.integration_id)
        # Also when the channel was gone already: a run killed after removing it may have left its refresh running.
        await self._controls.stop_token_refresh(ref.integration_id)

    @activity.defn(name="delete_organization_documents")
    async def delete_organization_documents(self, ref: DocumentsRef) -> int:
        org = ref.organization_id
        deleted = 0
        while True:
            if ref.kind == "proxies":
                proxies = await self._store.proxies.find(org, ProxyFilter(), _PAGE)
                ids = [p.id for p in proxies.items]
            else:
                personas = await self._store.personas.find(org, _PAGE)
                ids = [p.id for p in personas.items]
            if not ids:
                return deleted
            for doc_id in ids:
                with contextlib.suppress(NotFound):
                    if ref.kind == "proxies":
                        await self._store.proxies.delete(org, doc_id, unassign=True)
                    else:
                        await self._store.personas.delete(org, doc_id, unassign=True)
                    deleted += 1
            activity.heartbeat(deleted)

    @activity.defn(name="purge_organization_records")
    async def purge_organization_records(self, ref: OrganizationRef) -> Purged:
        """Every relational row of the organization but the organization row: posts, API keys, users and their
        sessions, audit records, and whatever else names it."""
        total: dict[str, int] = {}
        await self._records.forget_logins(ref.organization_id)
        while rows := await self._records.purge_organization(ref.organization_id, BATCH):
            for table, count in rows.items():
                total[table] = total.get(table, 0) + count
            activity.heartbeat(sum(total.values()))
        return Purged(rows=total)

    @activity.defn(name="delete_organization")
    async def delete_organization(self, ref: OrganizationRef) -> bool:
        deleted = await self._records.delete_organization(ref.organization_id)
        if deleted:
            activity.logger.info("organization %s deleted", ref.organization_id)
        return deleted
