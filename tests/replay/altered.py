"""A deliberately changed AutoLinkWorkflow (a timer before the activity, no `workflow.patched`): replaying a committed
history against it must fail, which shows the replay tests can catch a breaking change at all."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.autolink import AutoLinkActivities, AutoLinkInput, AutoLinkResult


@workflow.defn(name="AutoLinkWorkflow")
class AlteredAutoLinkWorkflow:
    @workflow.run
    async def run(self, params: AutoLinkInput) -> AutoLinkResult:
        await workflow.sleep(timedelta(seconds=1))
        result: AutoLinkResult = await workflow.execute_activity_method(
            AutoLinkActivities.link,
            params,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=20),
        )
        return result
