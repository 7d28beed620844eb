"""The FastAPI application factory. `uvicorn api.main:create_app --factory` serves it."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors, openapi
from api.container import Container, build
from api.routers import (
    accounts,
    api_keys,
    audit,
    auth,
    export,
    health,
    integrations,
    matrix,
    organization,
    personas,
    posts,
    proxies,
    souls,
    users,
    warming,
    webhooks,
)
from settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build the app. Tests may pass a ready container; otherwise the lifespan builds one from settings."""
    settings = settings or (container.settings if container else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        app.state.container = container or await build(settings)
        # Everything built so far (modules, the app, the container) lives as long as the process: moved out of the
        # collector's generations, a full collection no longer walks it. Those walks paused every request of a
        # worker for tens of milliseconds, several times a second under load (the PostgreSQL read p99).
        gc.freeze()
        try:
            yield
        finally:
            if owned:
                await app.state.container.close()

    app = FastAPI(
        title="Souls API",
        version="0.1.0",
        summary="Souls, their accounts, personas, proxies, channels and durable publishing.",
        lifespan=lifespan,
        # No OpenTelemetry here: FastAPI's native telemetry would otherwise ask the providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    openapi.install(app)
    # Routes are tried in this order, each by its regex, so the resources the frontend reads most come first (health
    # stays first: probes call it constantly; accounts before their warming routes, which share their start). Where
    # two routes match one path, both are of one router, which declares the specific one first: moving routers
    # changes no answer (test_direct_routes.py).
    routers = (health, accounts, warming, souls, posts, matrix, integrations, personas, proxies, auth, users,
               organization, webhooks, api_keys, audit, export)  # fmt: skip
    # FastAPI's own pages (the OpenAPI document, Swagger UI, ReDoc) go after the API's routes: read by people now and
    # then, they were tried first, by regex, on every request. No API route matches their paths (a test checks).
    pages = list(app.router.routes)
    app.router.routes.clear()
    for module in routers:
        # The routes themselves, not include_router: FastAPI 0.165 keeps an included router as a nested matcher that
        # scans its routes twice per request (to match, then to handle) with scope bookkeeping on every candidate,
        # 12% of the CPU of GET /axon/accounts/{id}. Each route already holds its full path, tags and responses.
        app.router.routes.extend(module.router.routes)
    app.router.routes.extend(pages)
    return app
