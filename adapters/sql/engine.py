"""Async engines for the two relational backends: SQLite (aiosqlite, the embedded default) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from adapters.sql import json_text


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # No reset on return: every transaction is ended by SQLAlchemy's Connection (commit, or rollback on close)
        # and the raw reads run in autocommit, so the pool's extra rollback would only cost a thread hop per checkout.
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size // 2,
            pool_reset_on_return=None,
            json_deserializer=json_text.loads,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping: it costs a round trip per request. A connection found dead fails one request with 503 and the pool
    # replaces it; recycling keeps connections younger than typical server and proxy idle limits.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        pool_recycle=1800,
        json_deserializer=json_text.loads,
    )


WRITE = {"sqlite_begin": "IMMEDIATE"}


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, for single-statement reads: no BEGIN/ROLLBACK round trips (autocommit)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin=None)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class _ProcessesLock:
    """An flock on a file beside the database, taken by each process's writer before SQLite's own lock.

    Two processes writing one SQLite file (the API's workers, the Temporal worker) otherwise meet at SQLite's lock,
    where the loser sleeps in the busy handler (1, 2, 5, ... ms) however soon the lock frees: at 16 concurrent mapping
    writes over two API workers that sleep set the p95. A writer waiting on the flock is woken by the kernel the
    moment the holder releases it. It only orders writers; SQLite's lock still guards the data, so a process that
    does not take it (a migration, a shell) is merely slower to get its turn."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    async def acquire(self) -> None:
        fd = self._file()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        # Held by another process: wait for it on a thread, never on the event loop.
        taken = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.shield(taken)
        except asyncio.CancelledError:
            # The thread may still get the lock after its waiter left: let go of it then, or it is never released.
            taken.add_done_callback(lambda f: None if f.cancelled() or f.exception() else self.release())
            raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


class WriteGate:
    """Queues this process's SQLite write transactions in arrival order, then across processes (_ProcessesLock).

    SQLite admits one writer; a writer that finds the lock taken sleeps in the busy handler (1, 2, 5, ... up to 100 ms
    between polls) even when the lock frees a moment later, so under concurrent writes most of a write's latency was
    sleep. Waiting here instead hands the lock over as soon as it is released. Re-entrant per task, so a write nested
    in another (same task) does not wait on itself. Each event loop gets its own lock (tests and tools run several
    loops)."""

    def __init__(self, database: str | None = None) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        self._holder: asyncio.Task[Any] | None = None
        self._depth = 0
        self._processes = _ProcessesLock(f"{database}-writers") if database else None

    async def _acquire(self) -> None:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            self._depth += 1
            return
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        await lock.acquire()
        if self._processes is not None:
            try:
                await self._processes.acquire()
            except BaseException:
                lock.release()
                raise
        self._holder, self._depth = task, 1

    def _release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._holder = None
            try:
                if self._processes is not None:
                    self._processes.release()
            finally:
                self._locks[asyncio.get_running_loop()].release()


class _GateHold:
    def __init__(self, gate: WriteGate | None) -> None:
        self._gate = gate

    async def __aenter__(self) -> None:
        if self._gate is not None:
            await self._gate._acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._gate is not None:
            self._gate._release()


_GATES: weakref.WeakKeyDictionary[Any, WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: AsyncEngine) -> WriteGate | None:
    """The gate shared by every writer on this engine's pool (SQLite only; PostgreSQL writers need none)."""
    if engine.dialect.name != "sqlite":
        return None
    pool = engine.sync_engine.pool  # engines derived with execution_options() share it
    gate = _GATES.get(pool)
    if gate is None:
        database = engine.url.database
        gate = _GATES[pool] = WriteGate(database if database and database != ":memory:" else None)
    return gate


def gated(gate: WriteGate | None) -> _GateHold:
    return _GateHold(gate)


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes SQLite's write lock up front (BEGIN IMMEDIATE) and so waits its turn under
    # busy_timeout, instead of failing at once with "database is locked" when it upgrades from reading.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    if mode is not None:
        conn.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
    # We emit BEGIN ourselves (see _sqlite_begin); the driver's implicit transactions are turned off.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
