"""SQLite reads on the calling thread, instead of through aiosqlite's connection threads.

aiosqlite runs every call on the connection's own thread: a Core query is four hand-offs (cursor, execute, fetchall,
close) and returning the connection adds a rollback, each one a queue put, a thread wake-up and a loop wake-up. On
the matrix toggle that was 16 hand-offs and about 5 ms of CPU per request, more than all the rest of the request.
A read takes tens of microseconds in SQLite itself and, in WAL mode, never waits for a writer, so running it in
place costs the event loop less than the hand-offs do.

What runs here: the identity repositories' reads (by id, a page of at most MAX_LIMIT rows), the matrix's point reads
and every `uows.reading()` unit of work. The connections are read-only, so a write attempted here fails instead of
bypassing the write lock (write units of work have their own in-place path, adapters.sql.in_place_writes, used only
when the lock is free at once). A Core read that cannot run in place (busy, file missing) falls back to the async
path.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, CursorResult, Engine, Executable, Result, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import QueuePool

from adapters.sql import json_text
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


_ENGINES: dict[tuple[str, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def shared_engine(
    kind: str,
    path: str,
    opener: Callable[[], sqlite3.Connection],
    *,
    pool_size: int,
    begin: str,
    on_commit: Callable[[Connection], None] | None = None,
) -> Engine:
    """The process's synchronous engine of `kind` on the file `path` (one each, shared), built on first use.

    Its connections are in autocommit mode (see the openers): SQLAlchemy's transaction starts with `begin` and ends
    with the connection's commit or rollback. A checkout must never wait: it would block the event loop while the
    holders need that loop to finish, so the pool has no overflow limit (connections beyond `pool_size` are closed
    when returned)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get((kind, path))
        if engine is None:
            engine = create_engine(
                "sqlite://",
                creator=opener,
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=-1,
                json_deserializer=json_text.loads,
            )
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
            if on_commit is not None:
                event.listen(engine, "commit", on_commit)
            _ENGINES[(kind, path)] = engine
        return engine


def in_place_engine(path: str) -> Engine:
    """The read-only engine on `path`: same dialect and type processing as the async engine, so Core and ORM reads
    give the same objects. A transaction gives the reads of one unit of work one snapshot, as the async path does;
    it costs nothing here."""
    return shared_engine("read", path, lambda: _open(path), pool_size=32, begin="BEGIN")


class LocalReader:
    """SQLAlchemy Core reads in place (see the module's docstring)."""

    def __init__(self, path: str, fallback: AsyncEngine) -> None:
        self._fallback = fallback
        self._engine = in_place_engine(path)

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


def in_place_sessions(path: str) -> Callable[[], AsyncSession]:
    """Read-only ORM sessions whose queries run in place: an AsyncSession (the repositories' interface) around a
    synchronous Session on the in-place engine. Its awaits only enter a greenlet; no statement leaves the thread."""
    engine = in_place_engine(path)

    def session() -> AsyncSession:
        made = InPlaceSession(expire_on_commit=False, autoflush=False)
        made.sync_session.bind = engine
        return made

    return session


class InPlaceSession(AsyncSession):
    """AsyncSession.execute hands the result to a step that expects an async driver's cursor; in place, the rows are
    simply read into a buffered result before the call returns, as the async path's result is."""

    async def execute(self, statement: Executable, params: Any = None, **kw: Any) -> Result[Any]:
        # ORM results are buffered as AsyncSession buffers them (prebuffer_rows); Core results are frozen below.
        options = {**kw.pop("execution_options", {}), "prebuffer_rows": True}
        result: Result[Any] = self.sync_session.execute(statement, params, execution_options=options, **kw)
        if isinstance(result, CursorResult) and result.returns_rows:
            return result.freeze()()
        return result
