"""Deletion workflows.

SoulDeletionWorkflow (`soul-deletion:{soulId}`): marks the soul `deleting`, removes its mappings, cancels its waiting
deliveries (their PostWorkflows) and waits out a publish in flight, deletes its posts, then each account (warming
schedule, references in other souls' mappings, channel link, proxy assignment, credentials), and last the soul after
a final sweep. Integrations are the organization's channels: they are unlinked, never disconnected, here.

OrganizationDeletionWorkflow (`org-deletion:{orgId}`): disconnects every channel (revoke, stop token refresh), runs a
SoulDeletionWorkflow per soul (children), then deletes proxies and personas, every relational row of the organization
(posts, API keys, users and sessions, audit records, ...) and the organization itself.

Each step is an idempotent activity retried until it succeeds, so a deletion always finishes; a run that is killed or
terminated midway is finished by starting it again (DELETE again, or from the Temporal UI). Query `state` shows the
progress; the current step is also in the workflow's details.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.search_attributes import ORGANIZATION_ID, SOUL_ID

with workflow.unsafe.imports_passed_through():
    from activities.lifecycle import (
        AccountRef,
        DocumentsRef,
        IntegrationRef,
        LifecycleActivities,
        OrganizationRef,
        Purged,
        SoulDeleted,
        SoulPlan,
        SoulRef,
    )
    from domain.auth import ActorType
    from domain.lifecycle import soul_deletion_id

# No maximum attempts: a deletion is never abandoned halfway; operators see a stuck step in the UI.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
_STEP = timedelta(minutes=2)
_LONG = timedelta(minutes=30)
_HEARTBEAT = timedelta(seconds=60)


class SoulDeletionInput(BaseModel):
    organization_id: str
    soul_id: str
    actor_type: ActorType = ActorType.SYSTEM
    actor_id: str | None = None


class SoulDeletionState(BaseModel):
    step: str = "starting"
    account_ids: list[str] = []
    accounts_deleted: int = 0
    mappings_removed: int = 0
    deliveries_cancelled: int = 0
    posts_deleted: int = 0
    soul_deleted: bool = False


class OrganizationDeletionInput(BaseModel):
    organization_id: str
    actor_id: str | None = None
    souls_per_batch: int = 20


class OrganizationDeletionState(BaseModel):
    step: str = "starting"
    souls_deleted: int = 0
    integrations_disconnected: int = 0
    proxies_deleted: int = 0
    personas_deleted: int = 0
    rows_deleted: dict[str, int] = {}
    organization_deleted: bool = False


def _step(name: str) -> None:
    workflow.set_current_details(f"step: {name}")


async def _run_step(state: Any, step: str, activity: Any, arg: Any, *, long: bool) -> Any:
    """One step of a deletion: shown in the state query and the Temporal UI, retried until it succeeds (every step is
    idempotent); a long step heartbeats."""
    state.step = step
    _step(step)
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=_LONG if long else _STEP,
        heartbeat_timeout=_HEARTBEAT if long else None,
        retry_policy=_RETRY,
    )


@workflow.defn(name="SoulDeletionWorkflow")
class SoulDeletionWorkflow:
    def __init__(self) -> None:
        self._state = SoulDeletionState()

    @workflow.query
    def state(self) -> SoulDeletionState:
        return self._state

    async def _run(self, step: str, activity: Any, arg: Any, *, long: bool = False) -> Any:
        return await _run_step(self._state, step, activity, arg, long=long)

    @workflow.run
    async def run(self, params: SoulDeletionInput) -> SoulDeletionState:
        ref = SoulRef(organization_id=params.organization_id, soul_id=params.soul_id, actor_type=params.actor_type,
                      actor_id=params.actor_id)  # fmt: skip
        plan: SoulPlan | None = await self._run("mark the soul deleting", LifecycleActivities.mark_soul_deleting, ref)
        if plan is None:  # deleted by an earlier run
            self._state.step = "done"
            return self._state
        self._state.account_ids = plan.account_ids
        self._state.mappings_removed = await self._run("remove mappings", LifecycleActivities.remove_soul_mappings, ref)
        self._state.deliveries_cancelled = await self._run(
            "cancel deliveries", LifecycleActivities.stop_soul_posts, ref, long=True
        )
        self._state.posts_deleted = await self._run(
            "delete posts", LifecycleActivities.delete_soul_posts, ref, long=True
        )
        for account_id in plan.account_ids:
            account = AccountRef(organization_id=ref.organization_id, soul_id=ref.soul_id, account_id=account_id)
            await self._run(f"delete account {account_id}", LifecycleActivities.delete_soul_account, account)
            self._state.accounts_deleted += 1
        last = ref.model_copy(update={"account_ids": plan.account_ids})
        deleted: SoulDeleted = await self._run("delete the soul", LifecycleActivities.delete_soul, last, long=True)
        self._state.soul_deleted = deleted.existed
        self._state.step = "done"
        _step("done")
        return self._state


@workflow.defn(name="OrganizationDeletionWorkflow")
class OrganizationDeletionWorkflow:
    def __init__(self) -> None:
        self._state = OrganizationDeletionState()

    @workflow.query
    def state(self) -> OrganizationDeletionState:
        return self._state

    async def _run(self, step: str, activity: Any, arg: Any, *, long: bool = False) -> Any:
        return await _run_step(self._state, step, activity, arg, long=long)

    @workflow.run
    async def run(self, params: OrganizationDeletionInput) -> OrganizationDeletionState:
        org = OrganizationRef(organization_id=params.organization_id, limit=params.souls_per_batch)
        mark = LifecycleActivities.mark_organization_deleting
        exists: bool = await self._run("mark the organization deleting", mark, org)
        if not exists:
            self._state.step = "done"
            return self._state
        # Channels first, while their accounts still exist: the revoke goes out through the account's proxy, as
        # every call of that account does, instead of from the server's own address.
        integration_ids: list[str] = await self._run(
            "list channels", LifecycleActivities.organization_integration_ids, org
        )
        for integration_id in integration_ids:
            ref = IntegrationRef(organization_id=params.organization_id, integration_id=integration_id)
            await self._run(f"disconnect channel {integration_id}", LifecycleActivities.disconnect_integration, ref)
            self._state.integrations_disconnected += 1
        await self._delete_souls(params, org)
        self._state.proxies_deleted = await self._run(
            "delete proxies", LifecycleActivities.delete_organization_documents,
            DocumentsRef(organization_id=params.organization_id, kind="proxies"), long=True,
        )  # fmt: skip
        self._state.personas_deleted = await self._run(
            "delete personas", LifecycleActivities.delete_organization_documents,
            DocumentsRef(organization_id=params.organization_id, kind="personas"), long=True,
        )  # fmt: skip
        purged: Purged = await self._run(
            "delete posts, API keys, users, sessions and audit records",
            LifecycleActivities.purge_organization_records, org, long=True,
        )  # fmt: skip
        self._state.rows_deleted = purged.rows
        self._state.organization_deleted = await self._run(
            "delete the organization", LifecycleActivities.delete_organization, org
        )
        self._state.step = "done"
        _step("done")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _delete_souls(self, params: OrganizationDeletionInput, org: OrganizationRef) -> None:
        """Batches of child SoulDeletionWorkflows until no soul is left. A soul whose deletion a user started
        already has its own workflow (same id): that one is waited for by listing again."""
        while True:
            soul_ids: list[str] = await self._run("list souls", LifecycleActivities.organization_soul_ids, org)
            if not soul_ids:
                return
            self._state.step = f"delete {len(soul_ids)} soul(s)"
            _step(self._state.step)
            children = []
            busy = 0
            for soul_id in soul_ids:
                try:
                    children.append(
                        await workflow.start_child_workflow(
                            SoulDeletionWorkflow.run,
                            SoulDeletionInput(
                                organization_id=params.organization_id,
                                soul_id=soul_id,
                                actor_type=ActorType.USER if params.actor_id else ActorType.SYSTEM,
                                actor_id=params.actor_id,
                            ),
                            id=soul_deletion_id(soul_id),
                            search_attributes=TypedSearchAttributes(
                                [
                                    SearchAttributePair(ORGANIZATION_ID, params.organization_id),
                                    SearchAttributePair(SOUL_ID, soul_id),
                                ]
                            ),
                            static_summary=f"deletion of soul {soul_id} with its organization",
                        )
                    )
                except WorkflowAlreadyStartedError:
                    busy += 1
            results = await asyncio.gather(*children)
            self._state.souls_deleted += sum(1 for r in results if r.soul_deleted)
            if busy and not children:
                await workflow.sleep(timedelta(seconds=5))
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(params)
