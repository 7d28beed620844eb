"""PostWorkflow (`post:{postId}:{integrationId}`): one delivery of a post. Waits on an updatable timer until the
publish date (and for approval when required), publishes through the platform's activity queue exactly once, then
collects metrics at the configured offsets.

Messages: updates `reschedule`, `publish_now`, `cancel`, `decide` (each with a validator, so a caller learns at once
that it is too late); query `state`. Operator cancellation from the Temporal UI cancels too. The record in the
database is written by activities; the workflow keeps the timer and the state machine."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from workflows.search_attributes import POST_STATE

with workflow.unsafe.imports_passed_through():
    from activities.publishing import (
        DeliveryPlan,
        DeliveryRef,
        MarkRequest,
        MetricsRequest,
        PublishingActivities,
        PublishOutcome,
        RefreshResult,
    )
    from activities.webhooks import EmitRequest, WebhookActivities
    from domain.notifications.events import EVENT_FOR_STATE
    from domain.publishing.posts import Approval, DeliveryState
    from workflows.post_messages import Decision, PostInput, PostState, RescheduleRequest


_QUICK = timedelta(seconds=30)
_QUICK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


def _label(offset_s: float) -> str:
    return f"{int(offset_s // 3600)}h" if offset_s >= 3600 else f"{int(offset_s)}s"


@workflow.defn(name="PostWorkflow")
class PostWorkflow:
    def __init__(self) -> None:
        self._state = PostState(state=DeliveryState.QUEUE)
        self._changed = False
        self._cancel = False
        self._decided = False
        self._quiet_first_try = False
        # A publish attempt is running, and the account's limits were loosened since it began (see recheck).
        self._attempting = False
        self._loosened_during_attempt = False

    # --- messages --------------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> PostState:
        return self._state

    def _require_waiting(self) -> None:
        if self._state.state != DeliveryState.QUEUE or self._cancel:
            raise ApplicationError(
                f"the delivery is {self._state.state.value}, no longer waiting", type="NotWaiting", non_retryable=True
            )

    @workflow.update
    def reschedule(self, request: RescheduleRequest) -> PostState:
        self._state.publish_date = request.publish_date
        self._changed = True
        return self._state

    @reschedule.validator
    def _validate_reschedule(self, request: RescheduleRequest) -> None:
        self._require_waiting()
        if request.publish_date.tzinfo is None:
            raise ApplicationError("the publish date needs a timezone", type="InvalidDate", non_retryable=True)
        if request.publish_date <= workflow.now():
            raise ApplicationError("the publish date is in the past", type="DateInPast", non_retryable=True)

    @workflow.update
    def publish_now(self) -> PostState:
        self._state.publish_date = workflow.now()
        self._changed = True
        return self._state

    @publish_now.validator
    def _validate_publish_now(self) -> None:
        self._require_waiting()

    @workflow.update
    def recheck(self) -> PostState:
        """The account's risk limits were loosened (a cooldown cleared, a higher daily limit): a delivery waiting
        for its window tries again now, and the publish checks the limits again. Its publish date stays.

        Also taken while an attempt runs: the attempt's activity records the delivery as waiting before this
        workflow hears of it, and a loosening that reads that record in between would otherwise be refused and the
        delivery sleep out the old window. The attempt's wait is then skipped, and the next attempt checks again."""
        self._changed = True
        if self._attempting:
            self._loosened_during_attempt = True
        return self._state

    @recheck.validator
    def _validate_recheck(self) -> None:
        if self._attempting and not self._cancel:
            return
        self._require_waiting()
        if self._state.wait_until is None:
            raise ApplicationError("the delivery is not waiting for a window", type="NotWaiting", non_retryable=True)

    @workflow.update
    def cancel(self) -> PostState:
        self._cancel = True
        self._changed = True
        return self._state

    @cancel.validator
    def _validate_cancel(self) -> None:
        self._require_waiting()

    @workflow.update
    def decide(self, decision: Decision) -> PostState:
        self._state.approval = Approval.APPROVED if decision.approved else Approval.REJECTED
        self._decided = True
        self._changed = True
        return self._state

    @decide.validator
    def _validate_decide(self, decision: Decision) -> None:
        self._require_waiting()
        if self._decided:
            raise ApplicationError("the delivery is not waiting for approval", type="NotPending", non_retryable=True)

    # --- run -------------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, params: PostInput) -> PostState:
        # Asked here, not at the publish: a patch upserts the TemporalChangeVersion search attribute, which belongs
        # with the start, not with the due time when every delivery of the instant publishes at once.
        self._quiet_first_try = workflow.patched("publishing-searchable-on-retry")
        ref = DeliveryRef(organization_id=params.organization_id, delivery_id=params.delivery_id)
        plan: DeliveryPlan | None = await workflow.execute_activity_method(
            PublishingActivities.plan, ref, start_to_close_timeout=_QUICK, retry_policy=_QUICK_RETRY
        )
        if plan is None:
            return await self._finish(ref, DeliveryState.CANCELLED, "Gone", "the post was deleted", record=False)
        if plan.state not in (DeliveryState.QUEUE, DeliveryState.PUBLISHING):
            self._state.state = plan.state
            return self._state
        # An update may arrive before the plan does: what it set is newer than the record.
        if self._state.publish_date is None:
            self._state.publish_date = plan.publish_date
        if not self._decided:
            self._state.approval = plan.approval
        if plan.state == DeliveryState.QUEUE:
            try:
                go = await self._wait_until_due()
            except asyncio.CancelledError:  # cancelled by an operator in the Temporal UI
                return await self._finish(ref, DeliveryState.CANCELLED, "Cancelled", "cancelled by an operator")
            if not go:
                reason = "rejected" if self._state.approval == Approval.REJECTED else "cancelled"
                return await self._finish(ref, DeliveryState.CANCELLED, reason.capitalize(), reason)
        outcome = await self._publish(ref, params)
        if outcome is not None and outcome.state == DeliveryState.PUBLISHED:
            if outcome.notify:
                await self._notify(ref, outcome.state)
            await self._collect_metrics(params)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _wait_until_due(self) -> bool:
        """True when it is time to publish; False when cancelled or rejected first."""
        while True:
            if self._cancel or self._state.approval == Approval.REJECTED:
                return False
            waiting_for_approval = self._state.approval == Approval.PENDING
            assert self._state.publish_date is not None  # noqa: S101 - set from the plan before waiting
            remaining = (self._state.publish_date - workflow.now()).total_seconds()
            if remaining <= 0 and not waiting_for_approval:
                return True
            self._changed = False
            timeout = None if waiting_for_approval else timedelta(seconds=remaining)
            with contextlib.suppress(TimeoutError):  # the timer ran out: loop to check again
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)

    async def _publish(self, ref: DeliveryRef, params: PostInput) -> PublishOutcome | None:
        # Most publishes settle at their first attempt, within a second: PUBLISHING is searchable (PostState) once
        # that attempt did not settle it, sparing the server a visibility write per delivery at the busiest moment.
        # The query, and the delivery record the API reads, say PUBLISHING from the start.
        quiet_first_try = self._quiet_first_try
        if quiet_first_try:
            self._state.state = DeliveryState.PUBLISHING
        else:
            self._set_state(DeliveryState.PUBLISHING)
        refreshed = False
        attempts = params.publish_attempts
        while True:
            try:
                outcome = await self._attempt(ref, params, 1 if quiet_first_try else attempts)
            except ActivityError as exc:
                if quiet_first_try and exc.retry_state not in _SETTLED and attempts > 1:
                    # A transient failure (or a lost worker): retry as the server would have, now searchable.
                    quiet_first_try, attempts = False, attempts - 1
                    self._set_state(DeliveryState.PUBLISHING)
                    await workflow.sleep(_retry_delay(exc))
                    continue
                kind, message = _cause(exc)
                if kind == "AuthExpired" and not refreshed:
                    refreshed = True
                    result: RefreshResult = await workflow.execute_activity_method(
                        PublishingActivities.refresh_token, ref, start_to_close_timeout=timedelta(seconds=90),
                        heartbeat_timeout=timedelta(seconds=20), retry_policy=_QUICK_RETRY,
                    )  # fmt: skip
                    if result.refreshed:
                        if quiet_first_try:  # the next attempt is a retry: searchable
                            quiet_first_try, attempts = False, max(1, attempts - 1)
                            self._set_state(DeliveryState.PUBLISHING)
                        continue
                    kind, message = "AuthRevoked", "the token expired and could not be refreshed: reconnect"
                final = DeliveryState.UNCONFIRMED if kind == "Unconfirmed" else DeliveryState.FAILED
                await self._finish(ref, final, kind, message)
                return None
            if outcome.state == DeliveryState.QUEUE and outcome.wait_until and workflow.patched("risk-limits"):
                try:
                    go = await self._wait_for_window(outcome)
                except asyncio.CancelledError:  # cancelled by an operator in the Temporal UI
                    await self._finish(ref, DeliveryState.CANCELLED, "Cancelled", "cancelled by an operator")
                    return None
                if not go:
                    reason = "rejected" if self._state.approval == Approval.REJECTED else "cancelled"
                    await self._finish(ref, DeliveryState.CANCELLED, reason.capitalize(), reason)
                    return None
                self._set_state(DeliveryState.PUBLISHING)
                continue
            self._state.external_id = outcome.external_id
            self._state.url = outcome.url
            self._set_state(outcome.state)
            return outcome

    async def _attempt(self, ref: DeliveryRef, params: PostInput, attempts: int) -> PublishOutcome:
        self._attempting, self._loosened_during_attempt = True, False
        try:
            outcome: PublishOutcome = await workflow.execute_activity_method(
                PublishingActivities.publish,
                ref,
                task_queue=params.platform_queue,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=params.heartbeat_timeout_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(minutes=2),
                    maximum_attempts=attempts,
                ),
            )
        finally:
            self._attempting = False
        return outcome

    async def _wait_for_window(self, outcome: PublishOutcome) -> bool:
        """The account is over its risk limits (daily posts, cooldown): back in the QUEUE until the window opens.
        Meanwhile publish-now tries again at once, reschedule moves the time, cancel stops. True: publish again."""
        assert outcome.wait_until is not None  # noqa: S101 - the caller checked
        self._state.error_code = "RiskLimitWait"
        self._state.last_error = outcome.reason
        self._state.wait_until = outcome.wait_until
        self._set_state(DeliveryState.QUEUE)
        self._changed = False
        remaining = (outcome.wait_until - workflow.now()).total_seconds()
        if remaining > 0 and not self._loosened_during_attempt:
            with contextlib.suppress(TimeoutError):  # the window opened
                await workflow.wait_condition(lambda: self._changed, timeout=timedelta(seconds=remaining))
        go = await self._wait_until_due()  # a reschedule to a later time waits for it; cancel and reject stop
        self._state.wait_until = None
        if go:
            self._state.error_code = self._state.last_error = None
        return go

    async def _collect_metrics(self, params: PostInput) -> None:
        published_at = workflow.now()
        for offset in sorted(params.metrics_offsets_s):
            due = published_at + timedelta(seconds=offset)
            if due > workflow.now():
                await workflow.sleep(due - workflow.now())
            label = _label(offset)
            with contextlib.suppress(ActivityError):  # metrics are best effort: a failure skips one reading
                await workflow.execute_activity_method(
                    PublishingActivities.metrics,
                    MetricsRequest(organization_id=params.organization_id, delivery_id=params.delivery_id, label=label),
                    task_queue=params.platform_queue,
                    start_to_close_timeout=timedelta(minutes=1),
                    retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=5)),
                )
                self._state.metrics_collected.append(label)

    async def _finish(
        self, ref: DeliveryRef, state: DeliveryState, code: str, message: str, *, record: bool = True
    ) -> PostState:
        self._state.error_code = code
        self._state.last_error = message
        if record:
            await workflow.execute_activity_method(
                PublishingActivities.mark,
                MarkRequest(
                    organization_id=ref.organization_id,
                    delivery_id=ref.delivery_id,
                    state=state,
                    error_code=code,
                    message=message,
                ),
                start_to_close_timeout=_QUICK,
                retry_policy=_QUICK_RETRY,
            )
        self._set_state(state)
        if record:
            await self._notify(ref, state)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _notify(self, ref: DeliveryRef, state: DeliveryState) -> None:
        """Tell the organization's webhooks of a final state (not of a cancellation: a person did that). Best effort
        for the delivery, which is decided already; the sending itself is durable, in its own workflow."""
        event_type = EVENT_FOR_STATE.get(state)
        if event_type is None or not workflow.patched("webhooks"):
            return
        request = EmitRequest(
            organization_id=ref.organization_id, delivery_id=ref.delivery_id, event_id=str(workflow.uuid4()),
            event_type=event_type, occurred_at=workflow.now(),
        )  # fmt: skip
        with contextlib.suppress(ActivityError):
            await workflow.execute_activity_method(
                WebhookActivities.emit, request, start_to_close_timeout=_QUICK,
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1),
                                         maximum_attempts=30),
            )  # fmt: skip

    def _set_state(self, state: DeliveryState) -> None:
        self._state.state = state
        workflow.upsert_search_attributes([POST_STATE.value_set(state.value)])


# How a first attempt can end without a retry being due: a final error, or a cancellation.
_SETTLED = (RetryState.NON_RETRYABLE_FAILURE, RetryState.CANCEL_REQUESTED)


def _retry_delay(exc: ActivityError) -> timedelta:
    """The wait before the retry the server would have made: the platform's reset time when it named one."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.next_retry_delay is not None:
        return cause.next_retry_delay
    return timedelta(seconds=1)


def _cause(exc: ActivityError) -> tuple[str, str]:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "Error", cause.message
    return type(cause).__name__ if cause else "Error", str(cause or exc)
