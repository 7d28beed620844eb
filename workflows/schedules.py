"""The Temporal Schedules the worker keeps in place (idempotently) at startup."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.reconcile import ReconcileRequest
from workflows.proxy_health import ProxyHealthInput, ProxyHealthWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.retention import RetentionInput, RetentionWorkflow

RETENTION_SCHEDULE_ID = "retention"
RECONCILE_SCHEDULE_ID = "reconcile-posts"
PROXY_HEALTH_SCHEDULE_ID = "proxy-health"


def interval_schedule(
    run: Any, arg: Any, *, run_id: str, task_queue: str, every_s: float, timeout: timedelta, note: str
) -> Schedule:
    """A sweep every `every_s`: one run at a time, and a missed run is not caught up (the next one finds the same
    work)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(run, arg, id=run_id, task_queue=task_queue, execution_timeout=timeout),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every_s))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=1)),
        state=ScheduleState(note=note),
    )


def reconcile_schedule(task_queue: str, every_s: float) -> Schedule:
    return interval_schedule(
        ReconcileWorkflow.run, ReconcileRequest(), run_id="reconcile-posts-run", task_queue=task_queue,
        every_s=every_s, timeout=timedelta(minutes=10),
        note="restarts the workflows of due deliveries that have none running",
    )  # fmt: skip


def retention_schedule(task_queue: str, retention_days: int) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionWorkflow.run,
            RetentionInput(retention_days=retention_days),
            id="retention-run",
            task_queue=task_queue,
            execution_timeout=timedelta(hours=1),
        ),
        # Daily at 03:17 UTC: off the hour, when most organizations are quiet.
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(3)], minute=[ScheduleRange(17)])]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=6)),
        state=ScheduleState(note=f"deletes audit records and sent webhooks older than {retention_days} days"),
    )


def proxy_health_schedule(task_queue: str, every_s: float) -> Schedule:
    return interval_schedule(
        ProxyHealthWorkflow.run, ProxyHealthInput(), run_id="proxy-health-run", task_queue=task_queue,
        every_s=every_s, timeout=timedelta(hours=1),
        note="tests every proxy through the check URL; a failed proxy flags its accounts and stops publishing",
    )  # fmt: skip


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule) -> None:
    """Create the schedule, or bring an existing one up to date while keeping its paused state and note."""
    try:
        await client.create_schedule(schedule_id, schedule)
        return
    except ScheduleAlreadyRunningError:
        pass

    def _update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule.state = current.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(_update)
