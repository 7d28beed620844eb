"""Async engines for the two relational backends: SQLite (aiosqlite, the embedded default) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=pool_size // 2
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping: it costs a round trip per request. A connection found dead fails one request with 503 and the pool
    # replaces it; recycling keeps connections younger than typical server and proxy idle limits.
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size // 2, pool_recycle=1800)


WRITE = {"sqlite_begin": "IMMEDIATE"}


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, for single-statement reads: no BEGIN/ROLLBACK round trips (autocommit)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin=None)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


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
