"""Composition root of the worker process: builds the clients and activities and registers the workflows."""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import logging
import signal
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.autolink import AutoLinkActivities
from activities.lifecycle import LifecycleActivities
from activities.proxy_health import ProxyHealthActivities
from activities.publishing import PublishingActivities
from activities.reconcile import ReconcileActivities
from activities.retention import RetentionActivities
from activities.token_refresh import TokenRefreshActivities
from activities.warming import WarmingActivities
from activities.webhooks import WebhookActivities
from adapters.crypto.fields import FieldCipher, Keyring
from adapters.documents import build_document_store
from adapters.logs import configure_logging
from adapters.platforms.config import endpoints
from adapters.platforms.publishing import publishers
from adapters.platforms.registry import platform_connectors
from adapters.platforms.warming import warmers
from adapters.proxy.checker import proxy_health
from adapters.sql.engine import create_engine
from adapters.sql.lifecycle import SqlLifecycleRecords
from adapters.sql.read_lane import dispose_engine
from adapters.sql.uow import SqlUnitOfWorkFactory
from adapters.temporal.client import connect
from adapters.temporal.lifecycle import TemporalLifecycleControls
from adapters.temporal.posts import post_workflows
from adapters.temporal.starter import TemporalChannelWorkflows
from adapters.temporal.warming import TemporalWarmingSchedules
from adapters.temporal.webhooks import WEBHOOK_SWEEP_SCHEDULE_ID, TemporalWebhookSender, webhook_sweep_schedule
from adapters.webhook_post import HttpWebhookPoster
from domain.clock import SystemClock
from domain.identity.platforms import Platform
from domain.identity.ports import DocumentStore
from domain.services.identity.souls import IdentityContext
from domain.services.identity.warming import WarmingService
from domain.services.integrations import IntegrationService
from domain.services.lifecycle import IntegrationDisconnector
from domain.services.webhooks import WebhookNotifier
from settings import Settings
from workflows.autolink import AutoLinkWorkflow
from workflows.lifecycle import OrganizationDeletionWorkflow, SoulDeletionWorkflow
from workflows.post import PostWorkflow
from workflows.post_messages import platform_queue
from workflows.proxy_health import ProxyHealthWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.retention import RetentionWorkflow
from workflows.schedules import (
    PROXY_HEALTH_SCHEDULE_ID,
    RECONCILE_SCHEDULE_ID,
    RETENTION_SCHEDULE_ID,
    ensure_schedule,
    proxy_health_schedule,
    reconcile_schedule,
    retention_schedule,
)
from workflows.token_refresh import TokenRefreshWorkflow
from workflows.warming import WarmingWorkflow
from workflows.webhook import WebhookSweepWorkflow, WebhookWorkflow

log = logging.getLogger("souls.worker")

WORKFLOWS = [
    RetentionWorkflow,
    AutoLinkWorkflow,
    TokenRefreshWorkflow,
    PostWorkflow,
    ReconcileWorkflow,
    WebhookWorkflow,
    WebhookSweepWorkflow,
    ProxyHealthWorkflow,
    SoulDeletionWorkflow,
    OrganizationDeletionWorkflow,
    WarmingWorkflow,
]


def lifecycle_activities(
    client: Client, settings: Settings, uow: SqlUnitOfWorkFactory, store: DocumentStore
) -> LifecycleActivities:
    """The steps of the deletion workflows; channels are disconnected exactly as DELETE /integrations/:id does."""
    clock = SystemClock()
    integrations = IntegrationService(
        IdentityContext(store=store, uows=uow, clock=clock),
        FieldCipher(Keyring.parse(settings.encryption_keys)),
        platform_connectors(settings),
        settings.frontend_url,
        TemporalChannelWorkflows(client, settings.temporal_task_queue, settings.token_refresh_margin_s),
        dev_base=settings.sandbox_url if settings.platform_api == "sandbox" else None,
    )
    return LifecycleActivities(
        store, uow, SqlLifecycleRecords(uow), post_workflows(client, settings), TemporalLifecycleControls(client),
        IntegrationDisconnector(integrations), clock,
    )  # fmt: skip


def _compile_workflow_modules() -> None:
    """The sandbox runs a workflow's module afresh for every workflow it starts. With bytecode caching off
    (PYTHONDONTWRITEBYTECODE, usual in containers and on CI) that meant compiling workflows/*.py from source each
    time, most of the cost of starting a PostWorkflow; write their bytecode once, here. A read-only install keeps
    working without it."""
    with contextlib.suppress(OSError):
        compileall.compile_dir(Path(__file__).resolve().parent / "workflows", quiet=2)


def build_workers(client: Client, settings: Settings, uow: SqlUnitOfWorkFactory, store: DocumentStore) -> list[Worker]:
    """The `souls` worker (workflows and bookkeeping activities) and one worker per platform queue, whose
    server-side activity rate is that platform's: Temporal, not this process, spaces the calls."""
    _compile_workflow_modules()
    clock = SystemClock()
    retention = RetentionActivities(uow)
    cipher = FieldCipher(Keyring.parse(settings.encryption_keys))
    webhook_sender = TemporalWebhookSender(client, settings)
    notifier = WebhookNotifier(uow, webhook_sender, clock, settings.public_url)
    post = HttpWebhookPoster(private_targets=settings.webhook_private_targets)
    webhooks = WebhookActivities(uow, cipher, notifier, webhook_sender, clock, post)
    identity = IdentityContext(store=store, uows=uow, clock=clock)
    warming_schedules = TemporalWarmingSchedules(client, settings.temporal_task_queue, settings.platform_queue_prefix)
    warming_service = WarmingService(identity, warming_schedules)
    # A connect (or reconnect) resumes the warming its channel's revoked grant paused.
    autolink = AutoLinkActivities(store, uow, clock, on_linked=warming_service.channel_connected)
    # A channel that needs reconnecting pauses its account's warming at once (best effort: logged if it fails).
    refresh = TokenRefreshActivities(
        store, uow, cipher, platform_connectors(settings), clock, webhooks=notifier,
        on_refresh_needed=warming_service.channel_needs_reconnecting,
    )  # fmt: skip
    sandbox = settings.sandbox_url if settings.platform_api == "sandbox" else None
    credentials = {Platform.parse(name): pair for name, pair in settings.platform_credentials.items()}
    channel_workflows = TemporalChannelWorkflows(client, settings.temporal_task_queue, settings.token_refresh_margin_s)
    posts = post_workflows(client, settings)
    publishing = PublishingActivities(
        store, uow, cipher, publishers(endpoints(sandbox_url=sandbox, credentials=credentials)), clock,
        channel_workflows=lambda: channel_workflows, webhooks=notifier,
        rate_limit_cooldown_s=settings.risk_cooldown_rate_limit_s, spam_cooldown_s=settings.risk_cooldown_spam_s,
        on_refresh_needed=warming_service.channel_needs_reconnecting,
    )  # fmt: skip
    reconcile = ReconcileActivities(uow, posts, clock)
    lifecycle = lifecycle_activities(client, settings, uow, store)
    platform_endpoints = endpoints(sandbox_url=sandbox, credentials=credentials)
    warming = WarmingActivities(
        store, uow, cipher, warmers(platform_endpoints), publishers(platform_endpoints), warming_schedules, clock,
        day_s=settings.warming_day_s, rate_limit_cooldown_s=settings.risk_cooldown_rate_limit_s,
        spam_cooldown_s=settings.risk_cooldown_spam_s, webhooks=notifier,
    )  # fmt: skip
    # A proxy that fails its checks pauses its accounts' warming; its recovery resumes them.
    health = ProxyHealthActivities(
        proxy_health(settings, identity, cipher, on_change=warming_service.proxy_changed),
        settings.proxy_health_concurrency,
    )
    main = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        max_cached_workflows=settings.workflow_cache_size,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.workflow_sticky_timeout_s),
        activities=[
            retention.delete_expired_audit_entries,
            retention.delete_expired_webhook_deliveries,
            autolink.link,
            refresh.plan,
            refresh.refresh,
            publishing.plan,
            publishing.mark,
            publishing.refresh_token,
            reconcile.reconcile,
            *lifecycle.all(),
            health.check_batch,
            warming.plan,
            warming.finish,
            webhooks.emit,
            webhooks.send,
            webhooks.give_up,
            webhooks.sweep,
        ],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
    platform_workers = [
        Worker(
            client,
            task_queue=platform_queue(platform.value, settings.platform_queue_prefix),
            activities=[publishing.publish, publishing.metrics, warming.act],
            max_task_queue_activities_per_second=settings.platform_rate_per_s.get(platform.value),
            max_concurrent_activities=settings.platform_activity_concurrency,
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
        await ensure_schedule(
            client,
            WEBHOOK_SWEEP_SCHEDULE_ID,
            webhook_sweep_schedule(settings.temporal_task_queue, settings.webhook_sweep_every_s),
        )
        await ensure_schedule(
            client,
            PROXY_HEALTH_SCHEDULE_ID,
            proxy_health_schedule(settings.temporal_task_queue, settings.proxy_health_every_s),
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
        await dispose_engine(engine)


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
