"""SQLite reads on the calling thread, instead of through aiosqlite's connection threads.

aiosqlite runs every call on the connection's own thread: a Core query is four hand-offs (cursor, execute, fetchall,
close) and returning the connection adds a rollback, each one a queue put, a thread wake-up and a loop wake-up. On
the matrix toggle that was 16 hand-offs and about 5 ms of CPU per request, more than all the rest of the request. A
read of one row or of one page (at most MAX_LIMIT rows) takes tens of microseconds in SQLite itself and, in WAL mode,
never waits for a writer, so running it in place costs the event loop less than the hand-offs do.

Only bounded reads come here (by id, a pair, a page). Anything that goes wrong on this path (the file is busy,
missing, or being migrated) falls back to the pooled async path, which then reports any real error.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import Engine, Executable, Result, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from adapters.sql.engine import reader

# A reader that meets a lock (rare in WAL mode: recovery, a schema change) gives up quickly and takes the async path.
_BUSY_MS = 50


class ReadConnection(Protocol):
    async def execute(self, statement: Executable) -> Result[Any]: ...


class Reader(Protocol):
    def connect(self) -> Any:
        """`async with reader.connect() as conn`, conn a ReadConnection."""


def database_file(engine: AsyncEngine) -> str | None:
    """The SQLite file behind `engine`; None for PostgreSQL and in-memory databases."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    return database


def _open(path: str) -> sqlite3.Connection:
    # Read-only (a bug here can never write) and autocommit: each statement sees the latest commit.
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    return conn


class LocalSqlite:
    """Plain SQL on a read-only sqlite3 connection per thread. `fetch` answers None when this path cannot serve the
    read; the caller then uses its async path."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()

    def fetch(self, sql: str, args: Sequence[Any]) -> list[Any] | None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._local.conn = _open(self._path)
            return conn.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error:
            if conn is not None:
                conn.close()
            self._local.conn = None
            return None


class _LocalConnection:
    def __init__(self, conn: Any, fallback: AsyncEngine) -> None:
        self._conn = conn
        self._fallback = fallback

    async def execute(self, statement: Executable) -> Result[Any]:
        try:
            result: Result[Any] = self._conn.execute(statement)
            return result
        except OperationalError:
            pass  # busy, moved, mid-migration: the async path decides
        async with self._fallback.connect() as conn:
            return await conn.execute(statement)


class LocalReader:
    """SQLAlchemy Core reads through a synchronous engine on the same file (same dialect, same type processing)."""

    def __init__(self, path: str, fallback: AsyncEngine) -> None:
        self._fallback = fallback
        # Autocommit connections (see _open): SQLAlchemy's "transaction" around a read is only bookkeeping, and the
        # rollback when a connection goes back to the pool is a no-op in sqlite3.
        self._engine: Engine = create_engine(
            "sqlite://", creator=lambda: _open(path), poolclass=QueuePool, pool_size=4, max_overflow=16
        )

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[ReadConnection]:
        try:
            conn = self._engine.connect()
        except OperationalError:
            async with self._fallback.connect() as fallback:
                yield fallback
            return
        try:
            yield _LocalConnection(conn, self._fallback)
        finally:
            conn.close()


def local_reader(engine: AsyncEngine) -> Reader:
    """Bounded reads for `engine`: in place on SQLite files, the autocommit async engine otherwise."""
    path = database_file(engine)
    return reader(engine) if path is None else LocalReader(path, reader(engine))
