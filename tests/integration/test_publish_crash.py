"""Exactly once across a crash: the worker process is killed while the platform is handling the publish request,
a new worker takes over after the heartbeat timeout, looks the post up, and the platform holds exactly one post."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from temporalio.client import Client

from domain.identity.platforms import Platform
from tests.conftest import ApiFactory
from tests.integration.publishing_desk import Desk, desk_settings
from tests.platforms.conftest import PYTHON, ROOT, Sandbox
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.proxies import PproxyServer

sandbox_server = _sandbox_server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
async def desk(api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str) -> Desk:
    api = await api_factory(**desk_settings(sandbox, task_queue))
    h = (await api.register())["headers"]
    return Desk(api, h, sandbox, temporal_client)


@contextmanager
def worker_process(desk: Desk) -> Iterator[subprocess.Popen[bytes]]:
    """`python worker.py` as `make run` starts it, pointed at the test database, Temporal and sandbox."""
    s = desk.api.container.settings
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": s.effective_database_url,
        "TEMPORAL_ADDRESS": s.temporal_address,
        "TEMPORAL_TASK_QUEUE": s.temporal_task_queue,
        "SANDBOX_PORT": str(s.sandbox_port),
        "PLATFORM_QUEUE_PREFIX": s.platform_queue_prefix,
        "POST_HEARTBEAT_TIMEOUT_S": str(s.post_heartbeat_timeout_s),
        "POST_METRICS_OFFSETS_S": "[3600]",
        "RECONCILE_EVERY_S": "3600",
    }
    proc = subprocess.Popen([str(PYTHON if PYTHON.exists() else sys.executable), "worker.py"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


async def test_a_worker_killed_mid_publish_never_makes_a_second_post(desk: Desk, pproxy_http: PproxyServer) -> None:
    with worker_process(desk) as first:
        channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
        # The platform takes 2 s to answer: the worker dies while X is creating the post.
        desk.sandbox.fault(Platform.X, "slow", endpoint="/2/tweets", delay_s=2.0)
        post = await desk.post(soulId=channel.soul_id, content="Exactly once, whatever happens")
        deadline = time.monotonic() + 30
        while not [r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/2/tweets")]:
            assert time.monotonic() < deadline, "the publish request never reached the platform"
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    await asyncio.sleep(2.5)  # the platform finishes the request of the dead worker
    assert len(desk.platform_posts(Platform.X)) == 1
    assert (await desk.get(post["id"]))["deliveries"][0]["state"] == "PUBLISHING"

    with worker_process(desk):
        done = await desk.settled(post["id"], within_s=60)
    delivery = done["deliveries"][0]
    held = desk.platform_posts(Platform.X)
    assert [p["text"] for p in held] == ["Exactly once, whatever happens"]
    assert (delivery["state"], delivery["externalId"], delivery["attempts"]) == ("PUBLISHED", held[0]["id"], 2)
    publishes = [
        r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/2/tweets") and r["method"] == "POST"
    ]
    assert len(publishes) == 1  # the second attempt looked the post up instead of publishing again
