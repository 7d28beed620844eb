"""adapters.sql.read_lane: a reader's own PostgreSQL connection, outside the pool, replaced when it breaks or ages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine
from adapters.sql.identity.store import SqlDocumentStore
from adapters.sql.read_lane import ReadLane, dispose_engine, lane_for, on_pooled
from tests.support import identity as make

ORG = "org-lane"


@pytest.fixture
async def pg_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(postgres_url, pool_size=2)
    yield eng
    await dispose_engine(eng)


@pytest.fixture
async def new_lane(pg_engine: AsyncEngine) -> AsyncIterator[Callable[..., ReadLane]]:
    """Lanes of the test's own (not registered with the engine), closed after it."""
    made: list[ReadLane] = []

    def make_lane(**kw: Any) -> ReadLane:
        made.append(ReadLane(pg_engine, **kw))
        return made[-1]

    yield make_lane
    for lane in made:
        await lane.close()


async def backend_pid(conn: Any) -> int:
    pid: int = await conn.fetchval("SELECT pg_backend_pid()")
    return pid


class Admin:
    """A connection of the test's own, outside every engine, to watch and end the engine's backends."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def backends(self) -> set[int]:
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row["pid"] for row in rows}

    async def terminate(self, pids: set[int]) -> None:
        for pid in pids:
            await self.conn.execute("SELECT pg_terminate_backend($1)", pid)
        await self.wait_gone(pids)

    async def wait_gone(self, pids: set[int]) -> None:
        for _ in range(100):
            if not pids & await self.backends():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"backends {pids & await self.backends()} still there")


@pytest.fixture
async def admin(postgres_url: str) -> AsyncIterator[Admin]:
    conn = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    yield Admin(conn)
    await conn.close()


async def test_the_lane_keeps_one_connection_the_pool_does_not_count(
    pg_engine: AsyncEngine, new_lane: Callable[..., ReadLane]
) -> None:
    lane = new_lane()
    first = await lane.run(backend_pid)
    assert await lane.run(backend_pid) == first
    assert pg_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert first not in {await on_pooled(pg_engine, backend_pid) for _ in range(3)}


async def test_a_busy_lane_sends_the_next_call_through_the_pool(new_lane: Callable[..., ReadLane]) -> None:
    lane = new_lane()
    started, release = asyncio.Event(), asyncio.Event()

    async def hold(conn: Any) -> int:
        started.set()
        await release.wait()
        return await backend_pid(conn)

    held = asyncio.create_task(lane.run(hold))
    await started.wait()
    meanwhile = await lane.run(backend_pid)
    release.set()
    assert meanwhile != await held
    assert await lane.run(backend_pid) == await held  # the lane's own connection again, once free


async def test_a_connection_that_breaks_mid_call_fails_that_call_and_the_next_opens_another(
    new_lane: Callable[..., ReadLane], admin: Admin
) -> None:
    lane = new_lane()
    first = await lane.run(backend_pid)
    slow = asyncio.create_task(lane.run(lambda conn: conn.fetchval("SELECT pg_sleep(30)")))
    for _ in range(100):  # until the sleep runs on the server
        query = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'"
        if await admin.conn.fetchval(query, first):
            break
        await asyncio.sleep(0.02)
    await admin.terminate({first})
    with pytest.raises(Exception, match=r"terminat|closed|lost"):
        await slow
    second = await lane.run(backend_pid)
    assert second != first
    assert await lane.run(backend_pid) == second


async def test_a_connection_that_broke_while_idle_is_replaced_before_use(
    new_lane: Callable[..., ReadLane], admin: Admin
) -> None:
    lane = new_lane()
    first = await lane.run(backend_pid)
    await admin.terminate({first})
    # If the client has not yet seen the server hang up, this call fails; either answer is right for it, as long as
    # the failure is not passed on to the calls after it.
    with contextlib.suppress(Exception):
        await lane.run(backend_pid)
    second = await lane.run(backend_pid)
    assert second != first
    assert await lane.run(backend_pid) == second


async def test_a_statement_the_server_refuses_leaves_the_connection_in_place(
    new_lane: Callable[..., ReadLane],
) -> None:
    """A key with a NUL character in it (a client's typo answers 422) must not cost the lane its connection."""
    lane = new_lane()
    first = await lane.run(backend_pid)
    with pytest.raises(asyncpg.CharacterNotInRepertoireError):
        await lane.run(lambda conn: conn.fetchval("SELECT $1::text", "a\x00b"))
    assert await lane.run(backend_pid) == first


async def test_an_old_connection_is_closed_and_replaced(new_lane: Callable[..., ReadLane], admin: Admin) -> None:
    lane = new_lane(recycle_s=0.0)
    first = await lane.run(backend_pid)
    second = await lane.run(backend_pid)
    assert second != first
    await admin.wait_gone({first})


async def test_disposing_the_engine_closes_its_lanes(postgres_url: str, admin: Admin) -> None:
    eng = create_engine(postgres_url, pool_size=2)
    lanes = [lane_for(eng, "first"), lane_for(eng, "second")]
    assert lane_for(eng, "first") is lanes[0]
    pids = {await lane.run(backend_pid) for lane in lanes}
    assert len(pids) == 2
    assert pids <= await admin.backends()
    await dispose_engine(eng)
    await admin.wait_gone(pids)


async def test_reads_still_answer_when_every_connection_breaks(postgres_url: str, admin: Admin) -> None:
    """A server restart, as the reads see it: the lane and the pooled connections all end at once. The batch that
    meets the broken lane is read again through the pool, and nobody's read fails."""
    before = await admin.backends()
    eng = create_engine(postgres_url, pool_size=2)
    try:
        store = SqlDocumentStore(eng)
        souls = [make.soul(ORG, f"Lane {i}") for i in range(3)]
        for soul in souls:
            await store.souls.add(soul)
        assert await asyncio.gather(*(store.souls.get(ORG, s.id) for s in souls)) == souls  # the lane opens
        await admin.terminate(await admin.backends() - before)
        await eng.dispose()  # the pool's dead connections go; the lane's is the reader's to notice
        assert await asyncio.gather(*(store.souls.get(ORG, s.id) for s in souls)) == souls
        assert await asyncio.gather(*(store.souls.get(ORG, s.id) for s in souls)) == souls
    finally:
        await dispose_engine(eng)
