"""PostWorkflows on Temporal: start one PostWorkflow per delivery (business id, ids-only input, search attributes)
and translate its update rejections into the domain's errors."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import Conflict, InvalidInput
from domain.publishing.posts import Delivery, DeliveryState, workflow_id
from domain.publishing.workflows import WorkflowGone
from settings import Settings
from workflows import search_attributes as sa
from workflows.post import PostWorkflow
from workflows.post_messages import Decision, PostInput, RescheduleRequest, platform_queue


class TemporalPostWorkflows:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        *,
        metrics_offsets_s: list[float] | None = None,
        heartbeat_timeout_s: float = 20.0,
        publish_attempts: int = 8,
        platform_queue_prefix: str = "",
    ) -> None:
        self._publish_attempts = publish_attempts
        self._queue_prefix = platform_queue_prefix
        self._client = client
        self._task_queue = task_queue
        self._metrics_offsets_s = metrics_offsets_s
        self._heartbeat_timeout_s = heartbeat_timeout_s

    def _input(self, delivery: Delivery) -> PostInput:
        extra: dict[str, Any] = {
            "heartbeat_timeout_s": self._heartbeat_timeout_s,
            "publish_attempts": self._publish_attempts,
            "platform_queue": platform_queue(delivery.platform.value, self._queue_prefix),
        }
        if self._metrics_offsets_s is not None:
            extra["metrics_offsets_s"] = self._metrics_offsets_s
        return PostInput(
            organization_id=delivery.organization_id, delivery_id=delivery.id, platform=delivery.platform.value,
            **extra,
        )  # fmt: skip

    async def start(self, delivery: Delivery, *, requires_approval: bool) -> None:
        attributes = [
            SearchAttributePair(sa.ORGANIZATION_ID, delivery.organization_id),
            SearchAttributePair(sa.SOUL_ID, delivery.soul_id),
            SearchAttributePair(sa.INTEGRATION_ID, delivery.integration_id),
            SearchAttributePair(sa.PLATFORM, delivery.platform.value),
            SearchAttributePair(sa.POST_STATE, DeliveryState.QUEUE.value),
        ]
        if delivery.account_id:
            attributes.append(SearchAttributePair(sa.ACCOUNT_ID, delivery.account_id))
        await self._client.start_workflow(
            PostWorkflow.run,
            self._input(delivery),
            id=workflow_id(delivery.post_id, delivery.integration_id),
            task_queue=self._task_queue,
            # Starting twice joins the running workflow; a retry after a final state starts a new run.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(attributes),
            static_summary=f"{delivery.platform.value} delivery of post {delivery.post_id}",
        )

    async def reschedule(self, delivery: Delivery, publish_date: datetime) -> None:
        await self._update(delivery, PostWorkflow.reschedule, RescheduleRequest(publish_date=publish_date))

    async def publish_now(self, delivery: Delivery) -> None:
        await self._update(delivery, PostWorkflow.publish_now, None)

    async def recheck(self, delivery: Delivery) -> None:
        await self._update(delivery, PostWorkflow.recheck, None)

    async def cancel(self, delivery: Delivery) -> None:
        await self._update(delivery, PostWorkflow.cancel, None)

    async def decide(self, delivery: Delivery, *, approved: bool) -> None:
        await self._update(delivery, PostWorkflow.decide, Decision(approved=approved))

    async def is_running(self, delivery: Delivery) -> bool:
        handle = self._client.get_workflow_handle(workflow_id(delivery.post_id, delivery.integration_id))
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return description.status == WorkflowExecutionStatus.RUNNING

    async def wait_closed(self, delivery: Delivery, within_s: float) -> bool:
        deadline = asyncio.get_running_loop().time() + within_s
        while await self.is_running(delivery):
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    async def _update(self, delivery: Delivery, update: Any, arg: Any) -> None:
        handle = self._client.get_workflow_handle(workflow_id(delivery.post_id, delivery.integration_id))
        try:
            if arg is None:
                await handle.execute_update(update)
            else:
                await handle.execute_update(update, arg)
        except WorkflowUpdateFailedError as exc:
            raise _rejection(exc) from None
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise WorkflowGone(delivery.id) from None  # never started, or already completed
            raise


def post_workflows(client: Client, settings: Settings) -> TemporalPostWorkflows:
    """The API and the worker start post workflows with the same settings."""
    return TemporalPostWorkflows(
        client,
        settings.temporal_task_queue,
        metrics_offsets_s=settings.post_metrics_offsets_s,
        heartbeat_timeout_s=settings.post_heartbeat_timeout_s,
        publish_attempts=settings.post_publish_attempts,
        platform_queue_prefix=settings.platform_queue_prefix,
    )


def _rejection(exc: WorkflowUpdateFailedError) -> Exception:
    cause = exc.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    message = cause.message if isinstance(cause, ApplicationError) else str(exc)
    if kind in ("DateInPast", "InvalidDate"):
        return InvalidInput(f"publishDate: {message}", field="publishDate", code="publish_date_in_past")
    return Conflict(f"Too late: {message}.", code="delivery_not_waiting")
