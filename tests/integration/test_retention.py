from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.worker import Worker

from activities.retention import RetentionActivities
from adapters.sql.engine import session_factory
from adapters.sql.tables import AuditLogRow, OrganizationRow
from adapters.sql.uow import SqlUnitOfWorkFactory
from adapters.sql.webhook_tables import WebhookDeliveryRow, WebhookRow
from workflows.retention import RetentionInput, RetentionWorkflow
from workflows.schedules import ensure_schedule, retention_schedule


def _entry(age_days: float) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "organization_id": "org",
        "actor_type": "system",
        "actor_id": None,
        "action": "auth.login",
        "details": {},
        "created_at": datetime.now(UTC) - timedelta(days=age_days),
    }


async def test_retention_deletes_only_entries_older_than_the_period(
    clean_db: AsyncEngine, temporal_client: Client, task_queue: str
) -> None:
    old = [_entry(91 + i / 10) for i in range(25)]
    recent = [_entry(89), _entry(1), _entry(0)]
    async with clean_db.begin() as conn:
        await conn.execute(insert(AuditLogRow), old + recent)

    activities = RetentionActivities(SqlUnitOfWorkFactory(session_factory(clean_db)))
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[RetentionWorkflow],
        activities=[activities.delete_expired_audit_entries, activities.delete_expired_webhook_deliveries],
    ):
        result = await temporal_client.execute_workflow(
            RetentionWorkflow.run,
            RetentionInput(retention_days=90, batch_size=10),
            id=f"retention-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert result.audit_entries_deleted == 25
    async with clean_db.connect() as conn:
        left = set((await conn.execute(select(AuditLogRow.id))).scalars())  # type: ignore[call-overload]
        total = (await conn.execute(select(func.count()).select_from(AuditLogRow))).scalar_one()
    assert left == {e["id"] for e in recent}
    assert total == 3


async def test_ensuring_the_schedule_twice_keeps_one_and_an_operators_pause(temporal_client: Client) -> None:
    schedule_id = f"retention-test-{uuid.uuid4().hex[:6]}"
    await ensure_schedule(temporal_client, schedule_id, retention_schedule("souls", 90))
    handle = temporal_client.get_schedule_handle(schedule_id)
    await handle.pause(note="paused by an operator during an incident")
    await ensure_schedule(temporal_client, schedule_id, retention_schedule("souls", 30))
    described = await handle.describe()
    assert described.schedule.state.paused
    assert described.schedule.state.note == "paused by an operator during an incident"
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    [params] = await temporal_client.data_converter.decode(action.args, [RetentionInput])
    assert params.retention_days == 30  # the new configuration replaced the old one
    await handle.delete()


async def test_retention_deletes_finished_webhook_deliveries_older_than_the_period_and_keeps_pending_ones(
    clean_db: AsyncEngine, temporal_client: Client, task_queue: str
) -> None:
    now = datetime.now(UTC)
    org, hook = str(uuid.uuid4()), str(uuid.uuid4())

    def delivery(age_days: float, status: str) -> dict[str, object]:
        return {
            "id": str(uuid.uuid4()), "webhook_id": hook, "organization_id": org, "event_id": str(uuid.uuid4()),
            "event_type": "post.published", "payload": {}, "status": status,
            "created_at": now - timedelta(days=age_days), "updated_at": now - timedelta(days=age_days),
        }  # fmt: skip

    old = [delivery(91 + i, "delivered") for i in range(4)] + [delivery(100, "failed")]
    kept = [delivery(120, "pending"), delivery(89, "delivered"), delivery(0, "failed")]
    async with clean_db.begin() as conn:
        await conn.execute(insert(OrganizationRow), [{"id": org, "name": "O", "created_at": now, "updated_at": now}])
        webhook = {"id": hook, "organization_id": org, "url": "https://example.com/h", "events": [], "secret": {},
                   "created_at": now, "updated_at": now}  # fmt: skip
        await conn.execute(insert(WebhookRow), [webhook])
        await conn.execute(insert(WebhookDeliveryRow), old + kept)

    activities = RetentionActivities(SqlUnitOfWorkFactory(session_factory(clean_db)))
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[RetentionWorkflow],
        activities=[activities.delete_expired_audit_entries, activities.delete_expired_webhook_deliveries],
    ):
        result = await temporal_client.execute_workflow(
            RetentionWorkflow.run,
            RetentionInput(retention_days=90, batch_size=2),
            id=f"retention-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert (result.audit_entries_deleted, result.webhook_deliveries_deleted) == (0, 5)
    async with clean_db.connect() as conn:
        left = set((await conn.execute(select(WebhookDeliveryRow.id))).scalars())  # type: ignore[call-overload]
    assert left == {d["id"] for d in kept}
