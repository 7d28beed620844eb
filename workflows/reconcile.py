"""ReconcileWorkflow: started by the `reconcile-posts` Schedule; restarts the workflows of stuck deliveries."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities, ReconcileRequest, ReconcileResult


@workflow.defn(name="ReconcileWorkflow")
class ReconcileWorkflow:
    @workflow.run
    async def run(self, request: ReconcileRequest) -> ReconcileResult:
        result: ReconcileResult = await workflow.execute_activity_method(
            ReconcileActivities.reconcile,
            request,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        workflow.set_current_details(f"checked {result.checked}, restarted {len(result.restarted)}")
        return result
