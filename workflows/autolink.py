"""AutoLinkWorkflow (`autolink:{integrationId}`), started when a channel connects: link it to the matching Account
and map that Account's Soul to it. Carries ids only; the activity reads everything else."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.autolink import AutoLinkActivities, AutoLinkInput, AutoLinkResult


def workflow_id(integration_id: str) -> str:
    return f"autolink:{integration_id}"


@workflow.defn(name="AutoLinkWorkflow")
class AutoLinkWorkflow:
    @workflow.run
    async def run(self, params: AutoLinkInput) -> AutoLinkResult:
        result: AutoLinkResult = await workflow.execute_activity_method(
            AutoLinkActivities.link,
            params,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20),
        )
        workflow.set_current_details(f"auto-link: {result.outcome}")
        return result
