"""A PostgreSQL connection of its own for one reader's batched point reads.

Borrowing a pooled connection for each batch cost about as much client CPU as the query itself (SQLAlchemy's
checkout and return, each through a greenlet: 24 µs against 47 µs for asyncpg's fetchrow, measured alone). Under the
read benchmark (bench.reads, PostgreSQL, 32 clients on one account) holding one connection, with one batch at a time,
took GET /axon/accounts/{id} from 0.39 to about 0.5 of the bare endpoint's throughput.

The lane's connection is opened by the engine's pool, so it is set up like every other (the dialect's codecs, the
URL's options), then detached from it: the pool's limits still hold for everyone else, and one held connection per
reader cannot starve them. One operation at a time runs on it; a caller that finds the lane busy borrows from the pool
instead. A connection that breaks (a server restart, a proxy's idle limit) is dropped, and the next call opens
another; so does any call cut off (cancelled, a protocol error), since that leaves the connection in a state nobody
can vouch for. A statement the server refuses (a NUL in a key) leaves it in place.
The failed call's error goes to its caller (the Coalescer then reads the batch's keys again through the pool, so no
request fails with it). Like the pool's own, the connection is replaced when older than `recycle_s`.
Lanes are had from `lane_for(engine, purpose)`: one per engine and purpose (a reader's table and key), however many
repositories are built on the engine, so their number stays fixed. `close_read_lanes(engine)` closes every lane of an
engine; `dispose_engine` does it before disposing the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

T = TypeVar("T")

# Like the pool's pool_recycle (adapters.sql.engine): younger than typical server and proxy idle limits.
RECYCLE_S = 1800.0

_LANES: weakref.WeakKeyDictionary[Any, dict[str, ReadLane]] = weakref.WeakKeyDictionary()


class ReadLane:
    def __init__(self, engine: AsyncEngine, *, recycle_s: float = RECYCLE_S) -> None:
        self._engine = engine
        self._recycle_s = recycle_s
        self._conn: Any = None  # the asyncpg connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened_at = 0.0
        self._busy = False

    async def run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """`work(connection)` on the lane's asyncpg connection, or on a pooled one while the lane is busy."""
        if self._busy:
            return await on_pooled(self._engine, work)
        self._busy = True
        try:
            conn = await self._connection()
            try:
                return await work(conn)
            except asyncpg.PostgresError:
                # The server refused the statement (a NUL in a key, say: 422) and the connection is ready for the
                # next one, unless the error was the server going away.
                if conn.is_closed():
                    self._conn = None
                raise
            except BaseException:
                # A query cut off (cancelled, the connection lost, a protocol error) leaves the connection in a state
                # nobody can vouch for. The next call opens another.
                self._conn = None
                with contextlib.suppress(Exception):
                    conn.terminate()
                raise
        finally:
            self._busy = False

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close(conn, self._loop)

    async def _connection(self) -> Any:
        loop = asyncio.get_running_loop()
        conn = self._conn
        if conn is not None and (
            conn.is_closed() or loop is not self._loop or time.monotonic() - self._opened_at > self._recycle_s
        ):
            self._conn = None
            await _close(conn, self._loop)
            conn = None
        if conn is None:
            pooled = await self._engine.raw_connection()
            conn = self._conn = pooled.driver_connection
            pooled.detach()  # ours from now on: the pool neither counts nor returns it
            self._loop, self._opened_at = loop, time.monotonic()
        return conn


def lane_for(engine: AsyncEngine, purpose: str) -> ReadLane:
    lanes = _LANES.setdefault(engine.sync_engine, {})
    lane = lanes.get(purpose)
    if lane is None:
        lane = lanes[purpose] = ReadLane(engine)
    return lane


async def close_read_lanes(engine: AsyncEngine) -> None:
    for lane in list(_LANES.get(engine.sync_engine, {}).values()):
        await lane.close()


async def dispose_engine(engine: AsyncEngine) -> None:
    """Close the engine's read lanes, then its pool."""
    await close_read_lanes(engine)
    await engine.dispose()


async def _close(conn: Any, loop: asyncio.AbstractEventLoop | None) -> None:
    if loop is asyncio.get_running_loop():
        with contextlib.suppress(Exception):  # already broken: nothing left to close politely
            await conn.close(timeout=5)
            return
    # Opened on another (perhaps closed) loop, or would not close: drop the socket.
    with contextlib.suppress(Exception):
        conn.terminate()


async def on_pooled(engine: AsyncEngine, work: Callable[[Any], Awaitable[T]]) -> T:
    pooled = await engine.raw_connection()
    try:
        return await work(pooled.driver_connection)
    finally:
        # In a greenlet: returning an overflow connection closes it, which awaits the driver.
        await greenlet_spawn(pooled.close)
