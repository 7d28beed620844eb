"""The warming Schedules on Temporal: one per warming account, `warming:{accountId}`, starting WarmingWorkflow daily
at the start of the active hours in the Persona's timezone. Overlap SKIP and a one-minute catch-up window: after an
outage the missed day is lost, never burst. Operators see (and may pause, trigger or edit) the same schedules in the
Temporal UI: the note says why one is paused, and the runs carry the AccountId/OrganizationId search attributes."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from activities.warming import WarmingRef
from domain.identity.warming import ScheduleView, WarmingConfig, schedule_id
from workflows import search_attributes
from workflows.warming import WarmingWorkflow

CATCHUP_WINDOW = timedelta(minutes=1)
# A day's run ends with its active hours; the cap only stops a run that somehow outlives its day.
RUN_TIMEOUT = timedelta(hours=25)


@contextlib.contextmanager
def _unless_gone() -> Iterator[list[bool]]:
    """Yields a flag list that holds False when the schedule did not exist."""
    found = [True]
    try:
        yield found
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        found[0] = False


def _attributes(organization_id: str, account_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([
        SearchAttributePair(search_attributes.ORGANIZATION_ID, organization_id),
        SearchAttributePair(search_attributes.ACCOUNT_ID, account_id),
    ])  # fmt: skip


class TemporalWarmingSchedules:
    def __init__(self, client: Client, task_queue: str, queue_prefix: str = "") -> None:
        self._client = client
        self._task_queue = task_queue
        self._queue_prefix = queue_prefix

    def schedule(self, organization_id: str, account_id: str, config: WarmingConfig, timezone: str) -> Schedule:
        start = config.active_hours.start
        attributes = _attributes(organization_id, account_id)
        return Schedule(
            action=ScheduleActionStartWorkflow(
                WarmingWorkflow.run,
                WarmingRef(organization_id=organization_id, account_id=account_id, queue_prefix=self._queue_prefix),
                id=f"warming-run:{account_id}",
                task_queue=self._task_queue,
                execution_timeout=RUN_TIMEOUT,
                typed_search_attributes=attributes,
                memo={"accountId": account_id, "organizationId": organization_id},
                static_summary=f"warming day of account {account_id}",
            ),
            spec=ScheduleSpec(
                calendars=[
                    ScheduleCalendarSpec(hour=[ScheduleRange(start.hour)], minute=[ScheduleRange(start.minute)])
                ],
                time_zone_name=timezone,
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
            state=ScheduleState(note="warming"),
        )

    async def ensure(self, organization_id: str, account_id: str, config: WarmingConfig, timezone: str) -> None:
        schedule = self.schedule(organization_id, account_id, config, timezone)
        try:
            await self._client.create_schedule(
                schedule_id(account_id), schedule, memo={"accountId": account_id, "organizationId": organization_id},
                search_attributes=_attributes(organization_id, account_id),
            )  # fmt: skip
            return
        except ScheduleAlreadyRunningError:
            pass

        def _update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)  # a start (or restart) runs it unpaused

        await self._client.get_schedule_handle(schedule_id(account_id)).update(_update)

    async def pause(self, account_id: str, note: str) -> bool:
        with _unless_gone() as found:
            await self._client.get_schedule_handle(schedule_id(account_id)).pause(note=note)
        return found[0]

    async def hold(self, account_id: str, note: str) -> bool:
        def _update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
            schedule = current.description.schedule
            if schedule.state.paused:
                return None  # its note says what resumes it
            schedule.state = dataclasses.replace(schedule.state, paused=True, note=note)
            return ScheduleUpdate(schedule=schedule)

        with _unless_gone() as found:
            # One read and a conditional write: the server refuses the write if the schedule changed in between.
            await self._client.get_schedule_handle(schedule_id(account_id)).update(_update)
        return found[0]

    async def resume(self, account_id: str, note: str) -> bool:
        with _unless_gone() as found:
            await self._client.get_schedule_handle(schedule_id(account_id)).unpause(note=note)
        return found[0]

    async def delete(self, account_id: str) -> None:
        with _unless_gone():
            await self._client.get_schedule_handle(schedule_id(account_id)).delete()

    async def describe(self, account_id: str) -> ScheduleView | None:
        with _unless_gone():
            described = await self._client.get_schedule_handle(schedule_id(account_id)).describe()
            info = described.info
            state = described.schedule.state
            recent = info.recent_actions[-1].started_at if info.recent_actions else None
            return ScheduleView(
                paused=state.paused, note=state.note or None,
                next_run_at=info.next_action_times[0] if info.next_action_times else None, last_run_at=recent,
            )  # fmt: skip
        return None

    async def trigger(self, account_id: str) -> None:
        await self._client.get_schedule_handle(schedule_id(account_id)).trigger()
