from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from tests.conftest import ApiFactory
from worker import WORKFLOWS


async def _ready(api_factory: ApiFactory, **overrides: object) -> tuple[int, dict[str, Any]]:
    api = await api_factory(**overrides)
    response = await api.http.get("/health/ready")
    return response.status_code, response.json()


async def test_live_answers_without_dependencies(api_factory: ApiFactory) -> None:
    api = await api_factory()
    assert (await api.http.get("/health/live")).json() == {"status": "ok"}


async def test_not_ready_without_a_worker(api_factory: ApiFactory) -> None:
    status, body = await _ready(api_factory)
    assert status == 503
    assert body["missing"] == ["worker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["temporal"] == "ok"


async def test_ready_while_a_worker_polls_and_unready_after_it_stops(
    api_factory: ApiFactory, temporal_client: Client, task_queue: str
) -> None:
    api = await api_factory()
    async with Worker(temporal_client, task_queue=task_queue, workflows=WORKFLOWS):
        for _ in range(50):
            response = await api.http.get("/health/ready")
            if response.status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ready"
    # The server keeps the last poll time; once it is older than the freshness window the stack is not ready.
    for _ in range(60):
        response = await api.http.get("/health/ready")
        if response.status_code == 503:
            break
        await asyncio.sleep(0.25)
    assert response.status_code == 503
    assert response.json()["missing"] == ["worker"]


async def test_not_ready_when_the_database_is_down(api_factory: ApiFactory) -> None:
    status, body = await _ready(api_factory, database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    assert status == 503
    assert "database" in body["missing"]


async def test_not_ready_when_temporal_is_down(api_factory: ApiFactory) -> None:
    from adapters.temporal.client import connect
    from tests.conftest import make_settings

    api = await api_factory()
    api.container.temporal = await connect(make_settings(temporal_address="127.0.0.1:1"), lazy=True)
    response = await api.http.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert set(body["missing"]) == {"temporal", "worker"}
    assert body["checks"]["worker"].startswith("unknown")
