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
from activities.publishing import PublishingActivities
from activities.reconcile import ReconcileActivities
from activities.retention import RetentionActivities
from activities.token_refresh import TokenRefreshActivities
from adapters.crypto.fields import FieldCipher, Keyring
from adapters.documents import build_document_store
from adapters.logs import configure_logging
from adapters.platforms.config import endpoints
from adapters.platforms.publishing import publishers
from adapters.platforms.registry import platform_connectors
from adapters.sql.engine import create_engine
from adapters.sql.uow import SqlUnitOfWorkFactory
from adapters.temporal.client import connect
from adapters.temporal.posts import post_workflows
from adapters.temporal.starter import TemporalChannelWorkflows
from domain.clock import SystemClock
from domain.identity.platforms import Platform
from domain.identity.ports import DocumentStore
from settings import Settings
from workflows.autolink import AutoLinkWorkflow
from workflows.post import PostWorkflow, platform_queue
from workflows.reconcile import ReconcileWorkflow
from workflows.retention import RetentionWorkflow
from workflows.schedules import (
    RECONCILE_SCHEDULE_ID,
    RETENTION_SCHEDULE_ID,
    ensure_schedule,
    reconcile_schedule,
    retention_schedule,
)
from workflows.token_refresh import TokenRefreshWorkflow

log = logging.getLogger("souls.worker")

WORKFLOWS = [RetentionWorkflow, AutoLinkWorkflow, TokenRefreshWorkflow, PostWorkflow, ReconcileWorkflow]


def build_workers(client: Client, settings: Settings, uow: SqlUnitOfWorkFactory, store: DocumentStore) -> list[Worker]:
    """The `souls` worker (workflows and bookkeeping activities) and one worker per platform queue, whose
    server-side activity rate is that platform's: Temporal, not this process, spaces the calls."""
    clock = SystemClock()
    retention = RetentionActivities(uow)
    autolink = AutoLinkActivities(store, uow, clock)
    cipher = FieldCipher(Keyring.parse(settings.encryption_keys))
    refresh = TokenRefreshActivities(store, uow, cipher, platform_connectors(settings), clock)
    sandbox = settings.sandbox_url if settings.platform_api == "sandbox" else None
    credentials = {Platform.parse(name): pair for name, pair in settings.platform_credentials.items()}
    channel_workflows = TemporalChannelWorkflows(client, settings.temporal_task_queue, settings.token_refresh_margin_s)
    posts = post_workflows(client, settings)
    publishing = PublishingActivities(
        store, uow, cipher, publishers(endpoints(sandbox_url=sandbox, credentials=credentials)), clock,
        channel_workflows=lambda: channel_workflows,
    )  # fmt: skip
    reconcile = ReconcileActivities(uow, posts, clock)
    main = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=[
            retention.delete_expired_audit_entries,
            autolink.link,
            refresh.plan,
            refresh.refresh,
            publishing.plan,
            publishing.mark,
            publishing.refresh_token,
            reconcile.reconcile,
        ],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
    platform_workers = [
        Worker(
            client,
            task_queue=platform_queue(platform.value, settings.platform_queue_prefix),
            activities=[publishing.publish, publishing.metrics],
            max_task_queue_activities_per_second=settings.platform_rate_per_s.get(platform.value),
            graceful_shutdown_timeout=timedelta(seconds=10),
        )
        for platform in Platform
    ]
    return [main, *platform_workers]


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
        await ensure_schedule(
            client, RECONCILE_SCHEDULE_ID, reconcile_schedule(settings.temporal_task_queue, settings.reconcile_every_s)
        )
        store = await build_document_store(settings, engine)
        workers = build_workers(client, settings, SqlUnitOfWorkFactory.for_engine(engine), store)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with contextlib.AsyncExitStack() as running:
            for worker in workers:
                await running.enter_async_context(worker)
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
