"""SQLite reads in place (adapters.sql.local_reads): each sees every commit, and falls back when it cannot run."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine, reader
from adapters.sql.identity.common import SOUL
from adapters.sql.identity.store import SqlDocumentStore
from adapters.sql.local_reads import LocalReader, LocalSqlite, local_reader
from adapters.sql.uow import SqlUnitOfWorkFactory
from tests.support import identity as make

ORG = "org-local"


def _file_engine(sqlite_url: str) -> AsyncEngine:
    return create_engine(sqlite_url)


async def test_a_commit_is_visible_to_the_next_read_in_place(sqlite_url: str) -> None:
    engine = _file_engine(sqlite_url)
    try:
        store = SqlDocumentStore(engine)
        soul = make.soul(ORG, "Before")
        await store.souls.add(soul)
        local = local_reader(engine)
        assert isinstance(local, LocalReader)
        async with local.connect() as conn:
            assert (await conn.execute(select(SOUL.c.name).where(SOUL.c.id == soul.id))).scalar() == "Before"
        # Written through the async pool (another connection, another thread): the very next read sees it.
        async with engine.begin() as conn:
            await conn.execute(update(SOUL).where(SOUL.c.id == soul.id).values(name="After"))
        async with local.connect() as conn:
            assert (await conn.execute(select(SOUL.c.name).where(SOUL.c.id == soul.id))).scalar() == "After"
        raw = LocalSqlite(str(engine.url.database))
        assert raw.fetch("SELECT name FROM soul WHERE id = ?", [soul.id]) == [("After",)]
        assert (await store.souls.get(ORG, soul.id)) == soul.model_copy(update={"name": "After"})
    finally:
        await engine.dispose()


async def test_reads_in_place_are_read_only(sqlite_url: str) -> None:
    engine = _file_engine(sqlite_url)
    try:
        raw = LocalSqlite(str(engine.url.database))
        # A write on this path fails (read-only connection): `None` sends the caller to its async path.
        assert raw.fetch("DELETE FROM soul", []) is None
    finally:
        await engine.dispose()


async def test_a_read_that_cannot_run_in_place_takes_the_async_path(sqlite_url: str, tmp_path: Path) -> None:
    engine = _file_engine(sqlite_url)
    try:
        store = SqlDocumentStore(engine)
        soul = make.soul(ORG, "Fallback")
        await store.souls.add(soul)
        missing = str(tmp_path / "not-there.db")
        assert LocalSqlite(missing).fetch("SELECT 1", []) is None
        broken = LocalReader(missing, reader(engine))
        async with broken.connect() as conn:
            row = (await conn.execute(select(SOUL.c.name).where(SOUL.c.id == soul.id))).one()
        assert row.name == "Fallback"
    finally:
        await engine.dispose()


async def test_each_thread_reads_on_its_own_connection(sqlite_url: str) -> None:
    engine = _file_engine(sqlite_url)
    try:
        raw = LocalSqlite(str(engine.url.database))
        seen: dict[int, tuple[object, object]] = {}

        def read(n: int) -> None:
            seen[n] = (raw.fetch("SELECT count(*) FROM soul", []), raw._local.conn)

        threads = [threading.Thread(target=read, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen[0][0] is not None
        assert seen[1][0] is not None
        assert seen[0][1] is not seen[1][1]
    finally:
        await engine.dispose()


async def test_postgres_reads_through_the_async_engine(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        assert isinstance(local_reader(engine), AsyncEngine)
    finally:
        await engine.dispose()


async def test_many_reading_units_of_work_at_once_never_wait_for_a_connection(sqlite_url: str) -> None:
    # Each holds its in-place connection across an await. A bounded pool would block the event loop on the first
    # checkout past its limit while the holders wait for that same loop: a hang until the pool's timeout.
    engine = _file_engine(sqlite_url)
    try:
        uows = SqlUnitOfWorkFactory.for_engine(engine)

        async def read() -> int:
            async with uows.reading() as uow:
                first = (await uow.session.execute(text("SELECT count(*) FROM soul"))).scalar_one()
                await asyncio.sleep(0.05)
                second = (await uow.session.execute(text("SELECT count(*) FROM soul"))).scalar_one()
            assert first == second
            return int(second)

        counts = await asyncio.wait_for(asyncio.gather(*(read() for _ in range(100))), timeout=10)
        assert len(counts) == 100
    finally:
        await engine.dispose()
