"""Reconciling deliveries with their workflows: nothing scheduled may be stuck. A delivery that is due (or was never
handed to a workflow) and still QUEUE or PUBLISHING, but has no running PostWorkflow, gets one started again; the
workflow reads the record and, for an interrupted publish, looks the post up before publishing."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity

from domain.clock import Clock
from domain.ports import UnitOfWorkFactory
from domain.publishing.workflows import PostWorkflows


class ReconcileRequest(BaseModel):
    grace_s: float = 30.0  # a delivery due this recently is still its workflow's business
    limit: int = 500


class ReconcileResult(BaseModel):
    checked: int
    restarted: list[str]


class ReconcileActivities:
    def __init__(self, uows: UnitOfWorkFactory, workflows: PostWorkflows, clock: Clock) -> None:
        self._uows = uows
        self._workflows = workflows
        self._clock = clock

    @activity.defn(name="posts_reconcile")
    async def reconcile(self, request: ReconcileRequest) -> ReconcileResult:
        before = self._clock.now() - timedelta(seconds=request.grace_s)
        async with self._uows.reading() as uow:
            candidates = await uow.deliveries.unfinished_due(before, request.limit)
        restarted: list[str] = []
        for delivery in candidates:
            activity.heartbeat(delivery.id)
            if await self._workflows.is_running(delivery):
                continue
            await self._workflows.start(delivery, requires_approval=False)
            restarted.append(delivery.id)
        if restarted:
            async with self._uows() as uow:
                await uow.deliveries.mark_scheduled(restarted)
                await uow.commit()
            activity.logger.warning("restarted the workflows of %d stuck deliveries", len(restarted))
        return ReconcileResult(checked=len(candidates), restarted=restarted)
