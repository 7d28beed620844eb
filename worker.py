"""Composition root of the worker process: builds the clients and activities and registers the workflows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities.autolink import AutoLinkActivities
from activities.retention import RetentionActivities
from activities.token_refresh import TokenRefreshActivities
from adapters.crypto.fields import FieldCipher, Keyring
from adapters.documents import build_document_store
from adapters.logs import configure_logging
from adapters.platforms.registry import platform_connectors
from adapters.sql.engine import create_engine
from adapters.sql.uow import SqlUnitOfWorkFactory
from adapters.temporal.client import connect
from domain.clock import SystemClock
from domain.identity.ports import DocumentStore
from settings import Settings
from workflows.autolink import AutoLinkWorkflow
from workflows.retention import RetentionWorkflow
from workflows.schedules import RETENTION_SCHEDULE_ID, ensure_schedule, retention_schedule
from workflows.token_refresh import TokenRefreshWorkflow

log = logging.getLogger("souls.worker")

WORKFLOWS = [RetentionWorkflow, AutoLinkWorkflow, TokenRefreshWorkflow]


def build_worker(client: Client, settings: Settings, uow: SqlUnitOfWorkFactory, store: DocumentStore) -> Worker:
    clock = SystemClock()
    retention = RetentionActivities(uow)
    autolink = AutoLinkActivities(store, uow, clock)
    cipher = FieldCipher(Keyring.parse(settings.encryption_keys))
    refresh = TokenRefreshActivities(store, uow, cipher, platform_connectors(settings), clock)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=[retention.delete_expired_audit_entries, autolink.link, refresh.plan, refresh.refresh],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def _connect_with_retry(settings: Settings) -> Client:
    delay = 0.5
    while True:
        try:
            return await connect(settings, identity=f"souls-worker@{settings.temporal_task_queue}")
        except RuntimeError as exc:  # the server is still starting
            log.warning("Temporal at %s not reachable yet (%s); retrying", settings.temporal_address, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def run(settings: Settings) -> None:
    client = await _connect_with_retry(settings)
    engine = create_engine(settings.effective_database_url, pool_size=settings.db_pool_size)
    try:
        await ensure_schedule(
            client,
            RETENTION_SCHEDULE_ID,
            retention_schedule(settings.temporal_task_queue, settings.audit_retention_days),
        )
        store = await build_document_store(settings, engine)
        worker = build_worker(client, settings, SqlUnitOfWorkFactory.for_engine(engine), store)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with worker:
            log.info("worker polling task queue %r on %s", settings.temporal_task_queue, settings.temporal_address)
            await stop.wait()
            log.info("worker stopping")
    finally:
        await engine.dispose()


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
