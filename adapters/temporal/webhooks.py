"""Webhook deliveries on Temporal: one WebhookWorkflow per delivery (business id, ids-only input) and the Schedule
that sweeps up deliveries whose sending never started."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from activities.webhooks import SweepRequest
from domain.notifications.webhooks import WebhookDelivery, workflow_id
from settings import Settings
from workflows import search_attributes as sa
from workflows.schedules import interval_schedule
from workflows.webhook import WebhookInput, WebhookSweepWorkflow, WebhookWorkflow

WEBHOOK_SWEEP_SCHEDULE_ID = "webhooks-sweep"


class TemporalWebhookSender:
    def __init__(self, client: Client, settings: Settings) -> None:
        self._client = client
        self._task_queue = settings.temporal_task_queue
        self._settings = settings

    def _input(self, delivery: WebhookDelivery) -> WebhookInput:
        s = self._settings
        return WebhookInput(
            organization_id=delivery.organization_id, webhook_delivery_id=delivery.id,
            timeout_s=s.webhook_timeout_s, retry_initial_s=s.webhook_retry_initial_s,
            retry_max_interval_s=s.webhook_retry_max_interval_s, max_attempts=s.webhook_max_attempts,
            give_up_after_s=s.webhook_give_up_after_s,
        )  # fmt: skip

    async def start(self, delivery: WebhookDelivery) -> None:
        await self._client.start_workflow(
            WebhookWorkflow.run,
            self._input(delivery),
            id=workflow_id(delivery.id),
            task_queue=self._task_queue,
            # Starting twice joins the running workflow; one started after the end finds the delivery final and stops.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.ORGANIZATION_ID, delivery.organization_id)]
            ),
            static_summary=f"{delivery.event_type.value} to webhook {delivery.webhook_id}",
        )


def webhook_sweep_schedule(task_queue: str, every_s: float) -> Schedule:
    return interval_schedule(
        WebhookSweepWorkflow.run, SweepRequest(), run_id="webhooks-sweep-run", task_queue=task_queue,
        every_s=every_s, timeout=timedelta(minutes=10),
        note="resumes webhook deliveries whose sending never started",
    )  # fmt: skip
