"""SQLite write transactions in place, when the write lock is free at once.

A unit of work through aiosqlite pays a hand-off to the connection's thread for every step (BEGIN, each statement's
cursor, execute, fetch and close, COMMIT): on the publish activity these hand-offs were about half of the worker's
CPU per delivery (adapters.sql.in_place says why each is dear). Here the unit of work's session runs on a writable
sqlite3 connection on the calling thread instead.

Waiting is the one thing this path must never do: a wait for SQLite's lock here would stall the whole event loop.
This process's writers already queue at the WriteGate before they get here, so the lock is normally free; when
another process holds it, BEGIN IMMEDIATE fails at once (busy_timeout 0) and the unit of work takes the async path,
whose thread waits instead. Checkpoints, which write and sync the database file, run on a worker thread, never
during a commit here (wal_autocheckpoint is off on these connections).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.in_place import InPlaceSession, shared_engine

log = logging.getLogger(__name__)

# A checkpoint every this many commits here keeps the WAL to a few MB; PASSIVE never waits for readers or writers.
CHECKPOINT_EVERY = 256


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)  # BEGIN is ours (see _write_engine)
    # busy_timeout 0: a BEGIN IMMEDIATE that meets another process's lock fails at once instead of waiting here.
    # (A unit of work that began a second transaction after its commit would get "database is locked", a 503 the
    # client retries; none of ours does.)
    for pragma in ("foreign_keys=ON", "synchronous=NORMAL", "wal_autocheckpoint=0", "busy_timeout=0"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


class _Checkpoints:
    def __init__(self, path: str) -> None:
        self._path = path
        self._commits = 0
        self._running = False

    def committed(self, _conn: Connection | None = None) -> None:
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or self._running:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not on an event loop: a later commit on one schedules it
        self._commits, self._running = 0, True
        loop.run_in_executor(None, self._checkpoint).add_done_callback(self._done)

    def _done(self, _: object) -> None:
        self._running = False

    def _checkpoint(self) -> None:
        try:
            conn = sqlite3.connect(self._path, timeout=5)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()
        except sqlite3.Error as exc:  # the next one catches up; the async connections checkpoint too
            log.warning("WAL checkpoint of %s failed: %s", self._path, exc)


_CHECKPOINTS: dict[str, _Checkpoints] = {}
_CHECKPOINTS_LOCK = threading.Lock()


def _checkpoints(path: str) -> _Checkpoints:
    """One commit counter per file: the sessions' commits and the raw transactions' commits count together."""
    with _CHECKPOINTS_LOCK:
        return _CHECKPOINTS.setdefault(path, _Checkpoints(path))


def _write_engine(path: str) -> Engine:
    return shared_engine(
        "write", path, lambda: _open(path), pool_size=4, begin="BEGIN IMMEDIATE", on_commit=_checkpoints(path).committed
    )


def in_place_writes(path: str) -> Callable[[], AsyncSession | None]:
    """`begin()` → a session already holding SQLite's write lock, in place; None when another process holds the lock
    (the caller then opens an async session, which waits for it off the loop)."""
    engine = _write_engine(path)

    def begin() -> AsyncSession | None:
        session = InPlaceSession(expire_on_commit=False, autoflush=False)
        session.sync_session.bind = engine
        try:
            session.sync_session.connection()  # BEGIN IMMEDIATE now: the lock, or "database is locked" at once
        except OperationalError:
            session.sync_session.close()
            return None
        return session

    return begin


class LocalWrites:
    """Plain SQL write transactions in place (the matrix's statements), on the same connections and under the same
    rules as the sessions above."""

    def __init__(self, path: str) -> None:
        self._engine = _write_engine(path)
        self._checkpoints = _checkpoints(path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection | None]:
        """A connection holding SQLite's write lock, committed when the block ends (rolled back when it raises);
        None when another process holds the lock (the caller then takes its async path)."""
        pooled = self._engine.raw_connection()
        try:
            conn: sqlite3.Connection = pooled.driver_connection  # type: ignore[assignment]
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                yield None
                return
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            self._checkpoints.committed()
        finally:
            pooled.close()
