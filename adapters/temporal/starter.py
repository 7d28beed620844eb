"""Starting the channel workflows on Temporal with business ids, ids-only inputs and search attributes."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from activities.autolink import AutoLinkInput
from domain.identity.platforms import Platform
from workflows import search_attributes as sa
from workflows.autolink import AutoLinkWorkflow, workflow_id
from workflows.token_refresh import TokenRefreshInput, TokenRefreshWorkflow
from workflows.token_refresh import workflow_id as refresh_workflow_id


def _attributes(organization_id: str, integration_id: str, platform: Platform) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.ORGANIZATION_ID, organization_id),
            SearchAttributePair(sa.INTEGRATION_ID, integration_id),
            SearchAttributePair(sa.PLATFORM, platform.value),
        ]
    )


class TemporalChannelWorkflows:
    def __init__(self, client: Client, task_queue: str, refresh_margin_s: float = 600) -> None:
        self._client = client
        self._task_queue = task_queue
        self._margin_s = refresh_margin_s

    async def start_token_refresh(
        self, organization_id: str, integration_id: str, platform: Platform, *, refresh_now: bool = False
    ) -> None:
        """Start the channel's refresh loop if it is not running; with `refresh_now`, also ask it to refresh."""
        params = TokenRefreshInput(
            organization_id=organization_id, integration_id=integration_id, margin_s=self._margin_s
        )
        await self._client.start_workflow(
            TokenRefreshWorkflow.run,
            params,
            id=refresh_workflow_id(integration_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=_attributes(organization_id, integration_id, platform),
            start_signal="refresh_now" if refresh_now else None,
        )

    async def stop_token_refresh(self, integration_id: str) -> None:
        await self._client.get_workflow_handle(refresh_workflow_id(integration_id)).signal(TokenRefreshWorkflow.stop)

    async def start_autolink(self, organization_id: str, integration_id: str, platform: Platform) -> None:
        # A connect while one auto-link runs joins it; a later connect runs it again (the activity is idempotent).
        await self._client.start_workflow(
            AutoLinkWorkflow.run,
            AutoLinkInput(organization_id=organization_id, integration_id=integration_id),
            id=workflow_id(integration_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=_attributes(organization_id, integration_id, platform),
        )
