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


class TemporalChannelWorkflows:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def start_autolink(self, organization_id: str, integration_id: str, platform: Platform) -> None:
        # A connect while one auto-link runs joins it; a later connect runs it again (the activity is idempotent).
        await self._client.start_workflow(
            AutoLinkWorkflow.run,
            AutoLinkInput(organization_id=organization_id, integration_id=integration_id),
            id=workflow_id(integration_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.ORGANIZATION_ID, organization_id),
                    SearchAttributePair(sa.INTEGRATION_ID, integration_id),
                    SearchAttributePair(sa.PLATFORM, platform.value),
                ]
            ),
        )
