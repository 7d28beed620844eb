"""Proxy health activities: one batch of proxies per call, tested through each proxy at bounded concurrency and
recorded by the same code as the manual test (domain/services/identity/proxy_health.py). Inputs and results carry
ids, counts and times only; the activity loads the proxies' passwords itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

from domain.services.identity.proxy_health import HealthBatch, HealthCursor, ProxyHealth


class ProxyHealthRequest(BaseModel):
    since: datetime  # the run's start: a proxy checked since then is not checked again by this run
    after: HealthCursor | None = None
    limit: int = 50


class ProxyHealthActivities:
    def __init__(self, health: ProxyHealth, concurrency: int, heartbeat_every_s: float = 5.0) -> None:
        self._health = health
        self._concurrency = concurrency
        self._heartbeat_every_s = heartbeat_every_s

    @activity.defn(name="proxy_health_check_batch")
    async def check_batch(self, request: ProxyHealthRequest) -> HealthBatch:
        async with self._heartbeats():
            batch = await self._health.check_batch(
                request.after, limit=request.limit, concurrency=self._concurrency, since=request.since
            )
        if batch.newly_failed or batch.recovered:
            activity.logger.warning("proxies failed: %s; recovered: %s", batch.newly_failed, batch.recovered)
        return batch

    @contextlib.asynccontextmanager
    async def _heartbeats(self) -> AsyncIterator[None]:
        """Heartbeat while proxies are tested (each may take the whole check timeout), so a killed worker is noticed
        within the heartbeat timeout and not only at the end of the batch."""

        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(self._heartbeat_every_s)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
