"""The deletion workflows on Temporal: starting them (API side) and what their activities stop (worker side)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.auth import Principal
from domain.lifecycle import organization_deletion_id, soul_deletion_id, warming_schedule_id
from domain.publishing.posts import Delivery, workflow_id
from workflows import search_attributes as sa
from workflows.lifecycle import (
    OrganizationDeletionInput,
    OrganizationDeletionWorkflow,
    SoulDeletionInput,
    SoulDeletionWorkflow,
)
from workflows.token_refresh import TokenRefreshWorkflow
from workflows.token_refresh import workflow_id as refresh_workflow_id


@contextlib.contextmanager
def _unless_gone() -> Iterator[None]:
    """Stopping what does not exist (never started, ended, deleted) is done already."""
    try:
        yield
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise


class TemporalLifecycleWorkflows:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def start_soul_deletion(self, organization_id: str, soul_id: str, actor: Principal) -> str:
        wid = soul_deletion_id(soul_id)
        await self._client.start_workflow(
            SoulDeletionWorkflow.run,
            SoulDeletionInput(
                organization_id=organization_id, soul_id=soul_id, actor_type=actor.actor_type, actor_id=actor.actor_id
            ),
            id=wid,
            task_queue=self._task_queue,
            # A second DELETE joins the running deletion; after a terminated or finished run, it starts a new one.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.ORGANIZATION_ID, organization_id),
                    SearchAttributePair(sa.SOUL_ID, soul_id),
                ]
            ),
            static_summary=f"deletion of soul {soul_id}",
        )
        return wid

    async def start_organization_deletion(self, organization_id: str, actor: Principal) -> str:
        wid = organization_deletion_id(organization_id)
        await self._client.start_workflow(
            OrganizationDeletionWorkflow.run,
            OrganizationDeletionInput(organization_id=organization_id, actor_id=actor.actor_id),
            id=wid,
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.ORGANIZATION_ID, organization_id)]),
            static_summary=f"deletion of organization {organization_id}",
        )
        return wid


class TemporalLifecycleControls:
    def __init__(self, client: Client) -> None:
        self._client = client

    async def stop_post_workflow(self, delivery: Delivery) -> None:
        with _unless_gone():
            await self._client.get_workflow_handle(workflow_id(delivery.post_id, delivery.integration_id)).cancel()

    async def delete_warming_schedule(self, account_id: str) -> None:
        with _unless_gone():
            await self._client.get_schedule_handle(warming_schedule_id(account_id)).delete()

    async def stop_token_refresh(self, integration_id: str) -> None:
        with _unless_gone():
            await self._client.get_workflow_handle(refresh_workflow_id(integration_id)).signal(
                TokenRefreshWorkflow.stop
            )
