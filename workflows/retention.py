"""RetentionWorkflow: deletes audit records older than the retention period, in batches, started by the
`retention` Schedule. Deterministic: all I/O is in activities."""

from __future__ import annotations

from datetime import timedelta

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
        while True:
            batch: RetentionBatch = await workflow.execute_activity_method(
                RetentionActivities.delete_expired_audit_entries,
                RetentionBatch(cutoff=cutoff, limit=params.batch_size),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            self._deleted += batch.deleted
            workflow.set_current_details(f"deleted {self._deleted} audit entries older than {cutoff.isoformat()}")
            if batch.deleted < params.batch_size:
                return RetentionResult(audit_entries_deleted=self._deleted)
