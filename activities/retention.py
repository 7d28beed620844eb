"""Retention activities: bounded batches, each its own transaction, so a retry repeats at most one batch."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

from domain.ports import UnitOfWorkFactory


class RetentionBatch(BaseModel):
    cutoff: datetime
    limit: int
    deleted: int = 0


class RetentionActivities:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    @activity.defn(name="delete_expired_audit_entries")
    async def delete_expired_audit_entries(self, batch: RetentionBatch) -> RetentionBatch:
        async with self._uow() as uow:
            deleted = await uow.audit.delete_older_than(batch.cutoff, batch.limit)
            await uow.commit()
        activity.logger.info("deleted %d audit entries older than %s", deleted, batch.cutoff.isoformat())
        return batch.model_copy(update={"deleted": deleted})

    @activity.defn(name="delete_expired_webhook_deliveries")
    async def delete_expired_webhook_deliveries(self, batch: RetentionBatch) -> RetentionBatch:
        """The organization's notification log: webhook deliveries, kept as long as the audit log."""
        async with self._uow() as uow:
            deleted = await uow.webhook_deliveries.delete_older_than(batch.cutoff, batch.limit)
            await uow.commit()
        activity.logger.info("deleted %d webhook deliveries older than %s", deleted, batch.cutoff.isoformat())
        return batch.model_copy(update={"deleted": deleted})
