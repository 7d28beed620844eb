"""TokenRefreshWorkflow (`token-refresh:{integrationId}`): one per channel whose token expires. Sleeps until the
expiry minus a margin, refreshes, and loops (continue-as-new when history grows). One workflow per channel means
refreshes of a channel never overlap, so a rotating refresh token is never used twice. A worker killed while a
refresh is in flight leaves the refresh journaled; the retry then ends the loop with outcome `unknown` (the channel
needs reconnecting) rather than present a single-use refresh token the platform may already have rotated.

Messages: `refresh_now` (signal) and `stop` (signal); `state` (query)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.search_attributes import ACCOUNT_ID

with workflow.unsafe.imports_passed_through():
    from activities.token_refresh import RefreshOutcome, RefreshPlan, RefreshTarget, TokenRefreshActivities


def workflow_id(integration_id: str) -> str:
    return f"token-refresh:{integration_id}"


class TokenRefreshInput(BaseModel):
    organization_id: str
    integration_id: str
    margin_s: float = 600.0
    # Never refresh more often than this, even when the platform hands out very short-lived tokens.
    min_interval_s: float = 60.0
    refreshes: int = 0


class TokenRefreshState(BaseModel):
    phase: str
    next_refresh_at: str | None = None
    refreshes: int = 0
    last_outcome: str | None = None


_TIMEOUT = timedelta(seconds=60)
# The refresh heartbeats while the platform answers: a killed worker's attempt is retried after this, not _TIMEOUT.
_HEARTBEAT = timedelta(seconds=10)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=5))


@workflow.defn(name="TokenRefreshWorkflow")
class TokenRefreshWorkflow:
    def __init__(self) -> None:
        self._refresh_now = False
        self._stop = False
        self._state = TokenRefreshState(phase="starting")
        self._account_id: str | None = None

    @workflow.signal
    def refresh_now(self) -> None:
        self._refresh_now = True

    @workflow.signal
    def stop(self) -> None:
        self._stop = True

    @workflow.query
    def state(self) -> TokenRefreshState:
        return self._state

    @workflow.run
    async def run(self, params: TokenRefreshInput) -> TokenRefreshState:
        target = RefreshTarget(organization_id=params.organization_id, integration_id=params.integration_id)
        self._state.refreshes = params.refreshes
        while not self._stop:
            plan: RefreshPlan = await workflow.execute_activity_method(
                TokenRefreshActivities.plan, target, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY
            )
            if plan.account_id and plan.account_id != self._account_id:
                # Operators find a channel's refresh loop by its account too.
                self._account_id = plan.account_id
                workflow.upsert_search_attributes([ACCOUNT_ID.value_set(plan.account_id)])
            if not plan.active and not self._refresh_now:
                self._state.phase = "ended: nothing to refresh"
                break
            wait = timedelta(0)
            if plan.expires_at is not None:
                due = plan.expires_at - timedelta(seconds=params.margin_s)
                earliest = workflow.now() + timedelta(seconds=params.min_interval_s if self._state.refreshes else 0)
                wait = max(due, earliest) - workflow.now()
                self._state.next_refresh_at = (workflow.now() + wait).isoformat()
            self._state.phase = "waiting"
            if wait > timedelta(0):
                with contextlib.suppress(TimeoutError):  # the timer ran out: time to refresh
                    await workflow.wait_condition(lambda: self._refresh_now or self._stop, timeout=wait)
            if self._stop:
                break
            self._refresh_now = False
            self._state.phase = "refreshing"
            outcome: RefreshOutcome = await workflow.execute_activity_method(
                TokenRefreshActivities.refresh,
                target,
                start_to_close_timeout=_TIMEOUT,
                heartbeat_timeout=_HEARTBEAT,
                retry_policy=_RETRY,
            )
            self._state.last_outcome = outcome.outcome
            if outcome.outcome != "refreshed":
                self._state.phase = f"ended: {outcome.outcome}"
                break
            self._state.refreshes += 1
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(params.model_copy(update={"refreshes": self._state.refreshes}))
        if self._stop:
            self._state.phase = "stopped"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state
