"""SQLite in place (adapters.sql.in_place, in_place_writes): reads see every commit and fall back when they cannot
run; writes run in place when the lock is free and wait off the loop when it is not; checkpoints run off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import create_engine, reader
from adapters.sql.identity.common import SOUL
from adapters.sql.identity.store import SqlDocumentStore
from adapters.sql.in_place import InPlaceSession, LocalReader, LocalSqlite, local_reader
from adapters.sql.in_place_writes import CHECKPOINT_EVERY
from adapters.sql.uow import SqlUnitOfWorkFactory
from cli import migrate
from domain.organizations import Organization
from tests.support import identity as make
from tests.support.loop import loop_ticks

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


def _organization(name: str) -> Organization:
    now = datetime.now(UTC)
    return Organization(id=make.new_id(), name=name, created_at=now, updated_at=now)


async def test_a_unit_of_work_writes_in_place_when_the_lock_is_free(sqlite_url: str) -> None:
    engine = _file_engine(sqlite_url)
    try:
        uows = SqlUnitOfWorkFactory.for_engine(engine)
        org = _organization("In place")
        async with uows() as uow:
            assert isinstance(uow.session, InPlaceSession)
            await uow.organizations.add(org)
            await uow.commit()
        async with engine.connect() as conn:  # the async pool (another connection) sees the commit
            name = (await conn.execute(text("SELECT name FROM organization WHERE id = :id"), {"id": org.id})).scalar()
        assert name == "In place"
        async with uows() as uow:  # left without commit: rolled back
            await uow.organizations.add(_organization("Never"))
        async with uows.reading() as uow:
            assert (
                await uow.session.execute(text("SELECT count(*) FROM organization WHERE name = 'Never'"))
            ).scalar() == 0
    finally:
        await engine.dispose()


async def test_when_another_process_holds_the_lock_the_write_waits_off_the_loop(sqlite_url: str) -> None:
    engine = _file_engine(sqlite_url)
    other = sqlite3.connect(str(engine.url.database), isolation_level=None)  # another process's writer, in effect
    try:
        uows = SqlUnitOfWorkFactory.for_engine(engine)
        other.execute("BEGIN IMMEDIATE")
        org = _organization("Waited")

        async def write() -> bool:
            async with uows() as uow:
                in_place = isinstance(uow.session, InPlaceSession)
                await uow.organizations.add(org)
                await uow.commit()
            return in_place

        async with loop_ticks() as ticks:
            writer = asyncio.create_task(write())
            await asyncio.sleep(0.5)
            assert not writer.done()  # waiting for the lock...
            assert ticks.count >= 20  # ...without stalling the event loop
            other.execute("COMMIT")
            assert await asyncio.wait_for(writer, timeout=10) is False  # it took the async path
        async with uows.reading() as uow:
            assert await uow.organizations.get(org.id) is not None
    finally:
        other.close()
        await engine.dispose()


async def test_commits_in_place_are_checkpointed_off_the_loop(tmp_path: Path) -> None:
    # A file of its own: the checkpoint counter is per file and process, and other tests' commits must not move it.
    url = f"sqlite+aiosqlite:///{tmp_path / 'checkpoints.db'}"
    await asyncio.to_thread(migrate, url)
    engine = _file_engine(url)
    try:
        uows = SqlUnitOfWorkFactory.for_engine(engine)
        path = str(engine.url.database)
        names = [f"Checkpointed {i}" for i in range(CHECKPOINT_EVERY + 20)]

        def in_database_file() -> int:
            # immutable=1 reads the database file alone, ignoring the WAL: what checkpoints have copied there. It
            # also ignores locks, so a read made while a checkpoint writes pages can find the file half-copied
            # ("malformed"): that read counts nothing, and the next poll looks again.
            conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
            try:
                sql = "SELECT count(*) FROM organization WHERE name LIKE 'Checkpointed %'"
                return int(conn.execute(sql).fetchone()[0])
            except sqlite3.DatabaseError:
                return -1
            finally:
                conn.close()

        async def commit(batch: list[str]) -> None:
            for name in batch:
                async with uows() as uow:
                    await uow.organizations.add(_organization(name))
                    await uow.commit()

        await commit(names[:20])
        assert in_database_file() == 0  # in the WAL only: no checkpoint during a commit here
        await commit(names[20:])  # past the mark: a PASSIVE checkpoint runs in a worker thread
        # It copies what was committed when it ran: at least the commits before the one that scheduled it.
        for _ in range(50):
            if in_database_file() >= CHECKPOINT_EVERY - 1:
                break
            await asyncio.sleep(0.1)
        assert in_database_file() >= CHECKPOINT_EVERY - 1
    finally:
        await engine.dispose()
