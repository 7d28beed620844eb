"""WarmingWorkflow: one day of an account's warming, started by its Schedule `warming:{accountId}`.

The plan activity fixes the day's actions and their times (spread over the active hours, jittered per account and
day), so a replay sleeps to the same instants. Each action runs on the platform's queue through the Account's proxy;
an account that can no longer act (suspended, proxy failed, channel revoked, cooling down) ends the day early, and
the activities pause the schedule with the reason. The Schedule skips overlapping runs and catches up for one minute
only: an outage loses days' actions rather than bursting them."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.warming import (
        FINAL_ERRORS,
        FinishRequest,
        StepOutcome,
        StepRequest,
        WarmingActivities,
        WarmingDayPlan,
        WarmingRef,
    )
    from workflows.post_messages import platform_queue


class WarmingRunResult(BaseModel):
    day: int = 0
    quota: int = 0
    done: int = 0
    attempted: int = 0
    stopped: str | None = None
    finished: bool = False


_BOOKKEEPING = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                           maximum_attempts=10)  # fmt: skip


@workflow.defn(name="WarmingWorkflow")
class WarmingWorkflow:
    def __init__(self) -> None:
        self._result = WarmingRunResult()

    @workflow.query
    def progress(self) -> WarmingRunResult:
        return self._result

    @workflow.run
    async def run(self, ref: WarmingRef) -> WarmingRunResult:
        plan: WarmingDayPlan = await workflow.execute_activity_method(
            WarmingActivities.plan, ref, start_to_close_timeout=timedelta(seconds=60), retry_policy=_BOOKKEEPING
        )
        result = self._result
        result.day, result.quota, result.finished = plan.day, plan.quota, plan.finished
        if not plan.run:
            result.stopped = plan.reason
            workflow.set_current_details(f"not warming today: {plan.reason}")
            return result
        queue = platform_queue(plan.platform, ref.queue_prefix)
        for step in plan.steps:
            workflow.set_current_details(
                f"day {plan.day}: {plan.done_today + result.done}/{plan.quota} done; next {step.action.value} at "
                f"{step.at.isoformat()}"
            )
            wait = step.at - workflow.now()
            if wait > timedelta(0):
                await workflow.sleep(wait)
            result.attempted += 1
            try:
                outcome: StepOutcome = await workflow.execute_activity_method(
                    WarmingActivities.act,
                    StepRequest(
                        organization_id=ref.organization_id,
                        account_id=ref.account_id,
                        action=step.action,
                        index=step.index,
                        day=plan.day,
                        date=plan.date,
                    ),
                    task_queue=queue,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(seconds=2),
                        maximum_attempts=3,
                        non_retryable_error_types=FINAL_ERRORS,
                    ),
                )
            except ActivityError as exc:
                cause = exc.cause
                result.stopped = f"{cause.type}: {cause.message}" if isinstance(cause, ApplicationError) else str(exc)
                break
            if outcome.done:
                result.done += 1
            if outcome.stop:
                result.stopped = outcome.reason
                break
        if result.stopped is None and plan.last_day:
            result.finished = await workflow.execute_activity_method(
                WarmingActivities.finish,
                FinishRequest(organization_id=ref.organization_id, account_id=ref.account_id, day=plan.day),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=_BOOKKEEPING,
            )
        workflow.set_current_details(
            f"day {plan.day}: {plan.done_today + result.done}/{plan.quota} done"
            + (f"; stopped: {result.stopped}" if result.stopped else "")
            + ("; warming finished, account active" if result.finished else "")
        )
        return result
