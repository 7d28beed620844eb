"""RetentionWorkflow: deletes audit records and finished webhook deliveries (the notification log) older than the
retention period, in batches, started by the `retention` Schedule. Deterministic: all I/O is in activities."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.retention import RetentionActivities, RetentionBatch


class RetentionInput(BaseModel):
    retention_days: int
    batch_size: int = 1000


class RetentionResult(BaseModel):
    audit_entries_deleted: int
    webhook_deliveries_deleted: int = 0


@workflow.defn(name="RetentionWorkflow")
class RetentionWorkflow:
    def __init__(self) -> None:
        self._deleted = 0

    @workflow.query
    def deleted(self) -> int:
        return self._deleted

    @workflow.run
    async def run(self, params: RetentionInput) -> RetentionResult:
        cutoff = workflow.now() - timedelta(days=params.retention_days)
        audit = await self._purge(RetentionActivities.delete_expired_audit_entries, "audit entries", cutoff, params)
        webhooks = 0
        if workflow.patched("retention-webhook-deliveries"):  # runs started before this step existed skip it
            webhooks = await self._purge(
                RetentionActivities.delete_expired_webhook_deliveries, "webhook deliveries", cutoff, params
            )
        return RetentionResult(audit_entries_deleted=audit, webhook_deliveries_deleted=webhooks)

    async def _purge(self, step: Any, what: str, cutoff: datetime, params: RetentionInput) -> int:
        deleted = 0
        while True:
            batch: RetentionBatch = await workflow.execute_activity_method(
                step,
                RetentionBatch(cutoff=cutoff, limit=params.batch_size),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            deleted += batch.deleted
            self._deleted += batch.deleted
            workflow.set_current_details(f"deleted {deleted} {what} older than {cutoff.isoformat()}")
            if batch.deleted < params.batch_size:
                return deleted
