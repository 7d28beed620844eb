"""WebhookWorkflow (`webhook:{deliveryId}`): sends one webhook delivery until the receiver takes it. Each activity
attempt is one POST, recorded on the delivery; Temporal's retry policy spaces them (exponential backoff, or the
receiver's Retry-After). A 2xx delivers; a final 4xx fails at once; the last attempt or the time limit fails it.

WebhookSweepWorkflow: started by the `webhooks-sweep` Schedule; resumes deliveries whose sending never started."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import (
        GiveUpRequest,
        SendOutcome,
        SendRequest,
        SweepRequest,
        SweepResult,
        WebhookActivities,
    )


class WebhookInput(BaseModel):
    organization_id: str
    webhook_delivery_id: str
    timeout_s: float = 10.0
    retry_initial_s: float = 10.0
    retry_max_interval_s: float = 3600.0
    max_attempts: int = 20
    give_up_after_s: float = 86400.0


_QUICK = timedelta(seconds=30)


@workflow.defn(name="WebhookWorkflow")
class WebhookWorkflow:
    @workflow.run
    async def run(self, params: WebhookInput) -> SendOutcome:
        request = SendRequest(
            organization_id=params.organization_id, webhook_delivery_id=params.webhook_delivery_id,
            timeout_s=params.timeout_s, retry_initial_s=params.retry_initial_s,
            retry_max_interval_s=params.retry_max_interval_s, max_attempts=params.max_attempts,
        )  # fmt: skip
        try:
            outcome: SendOutcome = await workflow.execute_activity_method(
                WebhookActivities.send,
                request,
                start_to_close_timeout=timedelta(seconds=params.timeout_s + 20),
                schedule_to_close_timeout=timedelta(seconds=params.give_up_after_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=params.retry_initial_s),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=params.retry_max_interval_s),
                    maximum_attempts=params.max_attempts,
                ),
            )
        except ActivityError as exc:
            cause = exc.cause
            reason = cause.message if isinstance(cause, ApplicationError) else "gave up: the time limit passed"
            outcome = await workflow.execute_activity_method(
                WebhookActivities.give_up,
                GiveUpRequest(
                    organization_id=params.organization_id, webhook_delivery_id=params.webhook_delivery_id,
                    reason=reason,
                ),
                start_to_close_timeout=_QUICK,
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )  # fmt: skip
        workflow.set_current_details(f"{outcome.status} after {outcome.attempts} attempt(s)")
        return outcome


@workflow.defn(name="WebhookSweepWorkflow")
class WebhookSweepWorkflow:
    @workflow.run
    async def run(self, request: SweepRequest) -> SweepResult:
        result: SweepResult = await workflow.execute_activity_method(
            WebhookActivities.sweep,
            request,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        workflow.set_current_details(f"checked {result.checked}, resumed {len(result.resumed)}")
        return result
