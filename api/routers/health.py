"""Liveness (the process answers) and readiness (database, Temporal and a `souls` worker all answer)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from adapters.temporal.health import fresh_pollers, server_reachable
from api.container import Container
from api.deps import ContainerDep
from api.direct import DirectRoute

router = APIRouter(route_class=DirectRoute, prefix="/health", tags=["health"])
log = logging.getLogger(__name__)
_CHECK_TIMEOUT_S = 4.0


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


async def _database(container: Container) -> str | None:
    async with container.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return None


async def _temporal(container: Container) -> str | None:
    await server_reachable(container.temporal)
    return None


async def _worker(container: Container) -> str | None:
    queue = container.settings.temporal_task_queue
    if await fresh_pollers(container.temporal, queue, container.settings.worker_poll_freshness_s) == 0:
        return f"no worker is polling the {queue!r} task queue"
    return None


async def _run(name: str, check: Coroutine[Any, Any, str | None]) -> tuple[str, str | None]:
    try:
        problem: str | None = await asyncio.wait_for(check, timeout=_CHECK_TIMEOUT_S)
    except TimeoutError:
        problem = "did not answer in time"
    except Exception as exc:  # a readiness probe reports every failure instead of raising it
        log.warning("readiness check %s failed: %s", name, type(exc).__name__)
        problem = f"unreachable ({type(exc).__name__})"
    return name, problem


@router.get("/ready")
async def ready(container: ContainerDep) -> JSONResponse:
    results = await asyncio.gather(
        _run("database", _database(container)),
        _run("temporal", _temporal(container)),
        _run("worker", _worker(container)),
    )
    checks = {name: ("ok" if problem is None else problem) for name, problem in results}
    missing = [name for name, problem in results if problem is not None]
    # A worker cannot be seen while Temporal itself is down; report the cause once.
    if "temporal" in missing and "worker" in missing:
        checks["worker"] = "unknown (Temporal is unreachable)"
    body = {"status": "ready" if not missing else "unavailable", "checks": checks, "missing": missing}
    return JSONResponse(body, status_code=200 if not missing else 503)
