"""ProxyHealthWorkflow: started by the `proxy-health` Schedule; tests every proxy of every organization, one batch per
activity, and records healthStatus, responseTimeMs and the rolling uptime on each. Deterministic: all I/O is in
activities; the history holds cursors, counts and proxy ids only."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.proxy_health import ProxyHealthActivities, ProxyHealthRequest
    from domain.services.identity.proxy_health import HealthBatch, HealthCursor


class ProxyHealthTotals(BaseModel):
    checked: int = 0
    healthy: int = 0
    degraded: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = []
    newly_failed: list[str] = []
    recovered: list[str] = []

    def add(self, batch: HealthBatch) -> None:
        self.checked += batch.checked
        self.healthy += batch.healthy
        self.degraded += batch.degraded
        self.failed += batch.failed
        self.skipped += batch.skipped
        self.errors += batch.errors
        self.newly_failed += batch.newly_failed
        self.recovered += batch.recovered


class ProxyHealthInput(BaseModel):
    batch_size: int = 50
    # Set only when a long run continues as new: where it stopped, when it started and what it counted so far.
    after: HealthCursor | None = None
    since: datetime | None = None
    totals: ProxyHealthTotals | None = None


@workflow.defn(name="ProxyHealthWorkflow")
class ProxyHealthWorkflow:
    def __init__(self) -> None:
        self._totals = ProxyHealthTotals()

    @workflow.query
    def progress(self) -> ProxyHealthTotals:
        return self._totals

    @workflow.run
    async def run(self, params: ProxyHealthInput) -> ProxyHealthTotals:
        since = params.since or workflow.now()
        after = params.after
        self._totals = params.totals or ProxyHealthTotals()
        while True:
            batch: HealthBatch = await workflow.execute_activity_method(
                ProxyHealthActivities.check_batch,
                ProxyHealthRequest(since=since, after=after, limit=params.batch_size),
                start_to_close_timeout=timedelta(minutes=15),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(minutes=1)),
            )
            self._totals.add(batch)
            t = self._totals
            workflow.set_current_details(
                f"checked {t.checked}: {t.healthy} healthy, {t.degraded} degraded, {t.failed} failed "
                f"({len(t.newly_failed)} newly failed, {len(t.recovered)} recovered)"
            )
            if batch.next is None:
                return self._totals
            after = batch.next
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    ProxyHealthInput(batch_size=params.batch_size, after=after, since=since, totals=self._totals)
                )
