"""Publishing benchmark: N deliveries due at the same instant, published through the real workers (as worker.py
builds them) on a Temporal dev server against the platform sandbox (X, direct connections), on SQLite.

Prints throughput and p50/p99 lateness (published time minus publishDate), and, as the baseline of the ratio, the
throughput of a bare workflow of the same shape (an updatable-timer wait and one no-op activity on a platform
queue) on the same server in the same run. Then, with M posts waiting far in the future, the resident memory and the
idle CPU of a separate worker process (`python worker.py`).

    python -m bench.publishing [--posts 1000] [--waiting 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.temporal.client import data_converter
from adapters.temporal.devserver import temporal_cli
from api.container import Container, build
from api.main import create_app
from bench.server import ROOT, free_port
from settings import Settings
from worker import build_workers
from workflows import search_attributes

PYTHON = sys.executable


# When each bare workflow's activity ran, in this process: the run ends when all have, without a result RPC each.
_BARE_DONE: list[float] = []


@activity.defn(name="bench_noop")
async def noop(_: str) -> float:
    _BARE_DONE.append(time.time())
    return _BARE_DONE[-1]


@workflow.defn(name="BareWorkflow", sandboxed=False)
class BareWorkflow:
    """The shape of a PostWorkflow without the platform: wait until the time, then one activity."""

    @workflow.run
    async def run(self, due_epoch: float) -> float:
        remaining = due_epoch - workflow.now().timestamp()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: False, timeout=timedelta(seconds=remaining))
        done: float = await workflow.execute_activity(
            "bench_noop", "x", task_queue="bench-bare-platform", start_to_close_timeout=timedelta(seconds=30),
            result_type=float,
        )  # fmt: skip
        return done


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _gather(n: int, make: object, limit: int = 32) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(i: int) -> None:
        async with gate:
            await make(i)  # type: ignore[operator]

    await asyncio.gather(*(one(i) for i in range(n)))


async def bare_run(client: Client, n: int, lead_s: float, server_pid: int | None) -> tuple[float, list[float]]:
    due = time.time() + lead_s
    handles: list[WorkflowHandle[BareWorkflow, float]] = []
    _BARE_DONE.clear()

    async def start(i: int) -> None:
        handle = await client.start_workflow(
            BareWorkflow.run, due, id=f"bare-{uuid.uuid4().hex}", task_queue="bench-bare"
        )
        handles.append(handle)

    async with (
        Worker(
            client,
            task_queue="bench-bare",
            workflows=[BareWorkflow],
            sticky_queue_schedule_to_start_timeout=timedelta(seconds=Settings().workflow_sticky_timeout_s),
        ),
        Worker(client, task_queue="bench-bare-platform", activities=[noop]),
    ):
        await _gather(n, start)
        if time.time() > due:
            print(f"  warning: starting took longer than the {lead_s:.0f} s lead")
        await asyncio.sleep(max(0.0, due - time.time()))
        with cpu_per_delivery("bare workflow", server_pid, n):
            while True:
                if len(_BARE_DONE) >= n:
                    break
                await asyncio.sleep(0.05)
        await asyncio.gather(*(h.result() for h in handles))  # every one completed
    lateness = [d - due for d in _BARE_DONE]
    return n / max(max(lateness), 1e-3), lateness


@dataclass
class BenchDesk:
    http: httpx.AsyncClient
    h: dict[str, str]
    soul_id: str
    lifespan: Any
    container: Container

    async def close(self) -> None:
        await self.http.aclose()
        await self.lifespan.__aexit__(None, None, None)
        await self.container.close()


async def desk_setup(settings: Settings, platforms: tuple[str, ...] = ("x",)) -> BenchDesk:
    """An organization allowing direct publishing, with one soul whose accounts on `platforms` are linked and
    mapped: each post fans out to one delivery per platform."""
    container = await build(settings)
    app = create_app(container=container)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60)
    user = {"email": f"b{uuid.uuid4().hex[:6]}@example.com", "password": "bench password 1", "name": "B",
            "organizationName": "B"}  # fmt: skip
    r = await http.post("/auth/register", json=user)
    h = {"Authorization": f"Bearer {r.json()['accessToken']}"}
    await http.patch("/axon/organization/settings", json={"allowDirectPublishing": True}, headers=h)
    soul = (await http.post("/axon/souls", json={"name": "Bench"}, headers=h)).json()
    for platform in platforms:
        start = (await http.get(f"/integrations/social/{platform}", headers=h)).json()
        async with httpx.AsyncClient(timeout=10, trust_env=False) as browser:
            location = (await browser.get(start["url"], follow_redirects=False)).headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        integration = (await http.post(f"/integrations/social/{platform}/connect", json=query, headers=h)).json()
        body = {"soulId": soul["id"], "platform": platform, "handle": f"bench{platform}"}
        account = (await http.post("/axon/accounts", headers=h, json=body)).json()
        await http.patch(f"/axon/accounts/{account['id']}/integration", json={"integrationId": integration["id"]},
                         headers=h)  # fmt: skip
        await http.post("/axon/matrix/mappings", json={"soulId": soul["id"], "integrationId": integration["id"]},
                        headers=h)  # fmt: skip
    return BenchDesk(http, h, soul["id"], lifespan, container)


async def publishing_run(
    settings: Settings, client: Client, n: int, lead_s: float, platforms: tuple[str, ...], server_pid: int | None
) -> tuple[float, list[float]]:
    """n deliveries: n / len(platforms) posts, each fanned out to every platform."""
    desk = await desk_setup(settings, platforms)
    http, h, soul_id, container = desk.http, desk.h, desk.soul_id, desk.container
    due = datetime.now(UTC) + timedelta(seconds=lead_s)
    post_ids: list[str] = []

    async def create(i: int) -> None:
        body = {"soulId": soul_id, "content": f"Bench post {i} {uuid.uuid4().hex[:6]}", "publishDate": due.isoformat()}
        r = await http.post("/axon/posts", headers=h, json=body)
        assert r.status_code == 201, r.text
        post_ids.append(r.json()["id"])

    workers = build_workers(client, settings, container.uow, container.documents)
    async with contextlib.AsyncExitStack() as stack:
        for w in workers:
            await stack.enter_async_context(w)
        created = time.monotonic()
        posts = n // len(platforms)
        await _gather(posts, create, limit=16)
        made = time.monotonic() - created
        print(f"  created {posts} posts ({posts * len(platforms)} deliveries) in {made:.1f} s (lead {lead_s:.0f} s)")
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        with cpu_per_delivery("PostWorkflow", server_pid, posts * len(platforms)):
            while True:
                if await _finished(container) >= posts * len(platforms):
                    break
                await asyncio.sleep(0.5)
    lateness = await _lateness(container)
    await desk.close()
    return len(lateness) / max(max(lateness), 1e-3), lateness


async def _replayed_steps(client: Client, workflow_type: str, sample: int = 100) -> float:
    """Workflow tasks that timed out per workflow, over a sample of histories: each one is a step the server handed
    to a worker without the workflow's cached state, which replayed the whole history to run it."""
    timed_out = seen = 0
    async for execution in client.list_workflows(f"WorkflowType = '{workflow_type}'", limit=sample):
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        timed_out += sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)
        seen += 1
    return timed_out / max(seen, 1)


async def _finished(container: object) -> int:
    from sqlalchemy import func, select

    from adapters.sql.publishing import DELIVERY

    async with container.engine.connect() as conn:  # type: ignore[attr-defined]
        stmt = select(func.count()).where(DELIVERY.c.state.in_(["PUBLISHED", "FAILED", "UNCONFIRMED", "CANCELLED"]))
        return int((await conn.execute(stmt)).scalar_one())


async def _lateness(container: object) -> list[float]:
    from sqlalchemy import select

    from adapters.sql.publishing import DELIVERY

    async with container.engine.connect() as conn:  # type: ignore[attr-defined]
        columns = (DELIVERY.c.state, DELIVERY.c.publish_date, DELIVERY.c.first_attempt_at, DELIVERY.c.published_at)
        rows = (await conn.execute(select(*columns))).all()
    failed = [r for r in rows if r.state != "PUBLISHED"]
    if failed:
        print(f"  warning: {len(failed)} deliveries did not publish")
    # Where the lateness comes from: waiting for the activity to start, or the activity's own work.
    claimed = [r for r in rows if r.first_attempt_at and r.published_at]
    started = [(r.first_attempt_at - r.publish_date).total_seconds() for r in claimed]
    working = [(r.published_at - r.first_attempt_at).total_seconds() * 1000 for r in claimed]
    if claimed:
        print(f"  start lag p50 {statistics.median(started):.2f} s, p99 {_pct(started, 0.99):.2f} s; claim to "
              f"published p50 {statistics.median(working):.0f} ms, p99 {_pct(working, 0.99):.0f} ms")  # fmt: skip
    return [(r.published_at - r.publish_date).total_seconds() for r in rows if r.published_at]


async def _clone_waiting(container: Container, post_id: str, m: int) -> None:
    """m more waiting posts like `post_id`: rows written in bulk (the API would take minutes for 10,000), each
    delivery's PostWorkflow started the way the API starts it."""
    from sqlalchemy import select

    from adapters.sql.publishing import POST

    async with container.engine.connect() as conn:
        org = (await conn.execute(select(POST.c.organization_id).where(POST.c.id == post_id))).scalar_one()
    async with container.uow.reading() as uow:
        post = await uow.posts.get(org, post_id)
        (delivery,) = await uow.deliveries.for_posts(org, [post_id])
    assert post is not None
    for first in range(0, m, 500):
        batch = []
        async with container.uow() as uow:
            for i in range(first, min(m, first + 500)):
                clone = post.model_copy(update={"id": str(uuid.uuid4()), "content": f"Later {i}"})
                copy = delivery.model_copy(update={"id": str(uuid.uuid4()), "post_id": clone.id, "scheduled": False})
                await uow.posts.add(clone)
                await uow.deliveries.add(copy)
                batch.append(copy)
            await uow.commit()
        await container.posts.schedule(batch, requires_approval=False)


def _server_pid(target: str) -> int | None:
    """The dev server process listening on `target` (host:port), found by its command line."""
    port = target.rsplit(":", 1)[-1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"start-dev" in argv and port.encode() in argv:
                    return int(entry.name)
    return None


@contextlib.contextmanager
def cpu_per_delivery(label: str, server_pid: int | None, n: int) -> Iterator[None]:
    """CPU spent per delivery by the Temporal server and by this process (API, workers), over the block: steadier
    than throughput on a shared two-core machine, and it says which side the time goes to."""
    server0, own0 = _cpu_s(server_pid) if server_pid else 0.0, time.process_time()
    yield
    server = (_cpu_s(server_pid) - server0) if server_pid else float("nan")
    own = time.process_time() - own0
    print(f"  {label} CPU per delivery: Temporal server {server / n * 1000:.1f} ms, workers {own / n * 1000:.1f} ms")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def waiting_run(settings: Settings, m: int) -> None:
    desk = await desk_setup(settings, ("linkedin",))
    http, h, soul_id = desk.http, desk.h, desk.soul_id
    far = datetime.now(UTC) + timedelta(days=30)
    r = await http.post(
        "/axon/posts", headers=h, json={"soulId": soul_id, "content": "Later", "publishDate": far.isoformat()}
    )
    assert r.status_code == 201, r.text
    started = time.monotonic()
    await _clone_waiting(desk.container, r.json()["id"], m - 1)
    print(f"  created {m} far-future posts (rows in bulk, workflows started by PostService.schedule) in "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    env = {**os.environ, "DATABASE_URL": settings.effective_database_url, "TEMPORAL_ADDRESS": settings.temporal_address,
           "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue, "SANDBOX_PORT": str(settings.sandbox_port),
           "LOG_LEVEL": "WARNING", "RECONCILE_EVERY_S": "3600"}  # fmt: skip
    proc = subprocess.Popen([PYTHON, "worker.py"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        # Let it take every workflow's first task (read the plan, start the timer), then watch it idle.
        previous, stable = -1.0, 0
        while stable < 3:
            await asyncio.sleep(5)
            cpu = _cpu_s(proc.pid)
            stable = stable + 1 if cpu - previous < 0.5 else 0
            previous = cpu
        before, t0 = _cpu_s(proc.pid), time.monotonic()
        await asyncio.sleep(20)
        idle = (_cpu_s(proc.pid) - before) / (time.monotonic() - t0) * 100
        print(
            f"  worker with {m} posts waiting: RSS {_rss_kib(proc.pid) / 1024:.0f} MiB, idle CPU {idle:.1f}% of a core"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        await desk.close()


async def main(posts: int, waiting: int, lead_s: float, platforms: tuple[str, ...]) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=data_converter(Settings()),
        search_attributes=search_attributes.ALL,
    )
    sandbox_port = free_port()
    sandbox = subprocess.Popen([PYTHON, "-m", "sandbox", "--port", str(sandbox_port)], cwd=ROOT,  # noqa: ASYNC220
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    tmp = tempfile.mkdtemp(prefix="bench-publishing-")
    try:
        async with env:
            client = env.client
            async with httpx.AsyncClient(trust_env=False) as probe:
                for _ in range(100):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await probe.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/faults")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)

            def settings_for(name: str) -> Settings:
                url = f"sqlite+aiosqlite:///{tmp}/{name}.db"
                subprocess.run([PYTHON, "-m", "cli", "migrate"], cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                               check=True, capture_output=True)  # fmt: skip
                return Settings(
                    database_url=url, temporal_address=client.service_client.config.target_host,
                    temporal_task_queue=f"bench-{name}", sandbox_port=sandbox_port, log_level="WARNING",
                    post_metrics_offsets_s=[], platform_rate_per_s=dict.fromkeys(platforms, 10_000.0),
                    platform_queue_prefix=f"bench-{name}-",
                )  # fmt: skip

            names = ", ".join(platforms)
            print(f"publishing: {posts} deliveries due at the same instant (SQLite, sandbox {names}, direct)")
            server_pid = _server_pid(client.service_client.config.target_host)
            bare_tp, bare_late = await bare_run(client, posts, lead_s, server_pid)
            print(f"  bare workflow: {bare_tp:.0f}/s, lateness p50 {statistics.median(bare_late):.2f} s, "
                  f"p99 {_pct(bare_late, 0.99):.2f} s; timed-out steps per workflow "
                  f"{await _replayed_steps(client, 'BareWorkflow'):.2f}")  # fmt: skip
            tp, late = await publishing_run(settings_for("publish"), client, posts, lead_s, platforms, server_pid)
            print(f"  PostWorkflow:  {tp:.0f}/s, lateness p50 {statistics.median(late):.2f} s, "
                  f"p99 {_pct(late, 0.99):.2f} s; timed-out steps per workflow "
                  f"{await _replayed_steps(client, 'PostWorkflow'):.2f}")  # fmt: skip
            print(f"  ratio (PostWorkflow / bare throughput): {tp / bare_tp:.2f}  (target >= 0.7; p99 target <= 2 s)")
            if waiting:
                await waiting_run(settings_for("waiting"), waiting)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--lead", type=float, default=60.0, help="seconds between creating and the due time")
    parser.add_argument(
        "--platforms", default="linkedin,facebook",
        help="channels each post fans out to; the sandbox, like X, caps an X user at 100 posts per 15 minutes",
    )  # fmt: skip
    args = parser.parse_args()
    asyncio.run(main(args.posts, args.waiting, args.lead, tuple(args.platforms.split(","))))
