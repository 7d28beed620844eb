"""Shared pieces of the SQL document repositories: tables, write transactions, keyset pages, back-references."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import JSON, Row, Select, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import json_text
from adapters.sql.coalesce import Coalescer
from adapters.sql.engine import WRITE, gated, reader, write_gate
from adapters.sql.identity_tables import AccountRow, PersonaRow, ProxyRow, SoulRow
from adapters.sql.in_place import LocalSqlite, ReadConnection, database_file, local_reader
from adapters.sql.read_lane import ReadLane, lane_for, on_pooled
from adapters.sql.types import UTCDateTime
from domain.errors import Conflict, NotFound
from domain.identity.ports import RecordChanged
from domain.pagination import Cursor, PageRequest

SOUL = SoulRow.__table__  # type: ignore[attr-defined]
PERSONA = PersonaRow.__table__  # type: ignore[attr-defined]
ACCOUNT = AccountRow.__table__  # type: ignore[attr-defined]
PROXY = ProxyRow.__table__  # type: ignore[attr-defined]

T = TypeVar("T")


async def keyset_page(
    conn: ReadConnection, stmt: Select[Any], table: Any, page: PageRequest
) -> tuple[list[Row[Any]], str | None]:
    if page.after is not None:
        c = page.after
        stmt = stmt.where(
            or_(table.c.created_at > c.created_at, and_(table.c.created_at == c.created_at, table.c.id > c.id))
        )
    rows = list((await conn.execute(stmt.order_by(table.c.created_at, table.c.id).limit(page.limit + 1))).all())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = Cursor(created_at=rows[-1].created_at, id=rows[-1].id).encode() if more and rows else None
    return rows, cursor


async def exists(conn: AsyncConnection, table: Any, organization_id: str, row_id: str) -> bool:
    stmt = select(table.c.id).where(table.c.id == row_id, table.c.organization_id == organization_id)
    return (await conn.execute(stmt)).first() is not None


async def replace_row(
    conn: AsyncConnection,
    table: Any,
    resource: str,
    key: tuple[str, str],
    values: dict[str, Any],
    expected_updated_at: datetime | None,
) -> None:
    """UPDATE one row by (organization id, id). With `expected_updated_at`, only while the row still has it: a
    change stored since the caller's read raises RecordChanged instead of being overwritten. NotFound when gone."""
    organization_id, row_id = key
    where = [table.c.id == row_id, table.c.organization_id == organization_id]
    if expected_updated_at is not None:
        where.append(table.c.updated_at == expected_updated_at)
    result = await conn.execute(update(table).where(*where).values(values))
    if result.rowcount != 1:
        if expected_updated_at is not None and await exists(conn, table, organization_id, row_id):
            raise RecordChanged(resource, row_id)
        raise NotFound(resource, row_id)


async def account_ids_by(conn: ReadConnection, column: Any, keys: Iterable[str]) -> dict[str, list[str]]:
    keys = list(keys)
    out: dict[str, list[str]] = defaultdict(list)
    if not keys:
        return out
    stmt = select(column, ACCOUNT.c.id).where(column.in_(keys)).order_by(ACCOUNT.c.created_at, ACCOUNT.c.id)
    for key, account_id in map(tuple, (await conn.execute(stmt)).all()):
        out[key].append(account_id)
    return out


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.reader = local_reader(engine)

    def write(self) -> Any:
        return _WriteTx(self.engine)


class _WriteTx:
    """`async with store.write() as conn`: a write transaction (BEGIN IMMEDIATE on SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._gate = gated(write_gate(engine))

    async def __aenter__(self) -> AsyncConnection:
        await self._gate.__aenter__()
        try:
            self._conn = await self._engine.connect()
            try:
                await self._conn.execution_options(**WRITE)
                self._tx = await self._conn.begin()
            except BaseException:
                await self._conn.close()
                raise
        except BaseException:
            await self._gate.__aexit__(None, None, None)
            raise
        return self._conn

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            try:
                await self._conn.close()
            finally:
                await self._gate.__aexit__(exc_type, exc, tb)
        if isinstance(exc, IntegrityError) and "foreign key" in str(exc.orig).lower():
            # A referenced row vanished between the store's check and its write (a concurrent delete).
            raise Conflict(
                "Something this change refers to was removed at the same moment; reload and retry.",
                code="concurrent_change",
            ) from exc


# How many rows each RawReader remembers the domain object of (a few MB at most).
REMEMBERED_ROWS = 1024


class RawReader(Generic[T]):
    """Single-row reads by primary key straight through the driver, for the hottest endpoints.

    SQLAlchemy Core costs about twice the CPU of the query itself here (statement caching, result processing); this
    path sends plain SQL on the driver's connection and does the few conversions the tables need by hand: JSON text
    and UTC times. On a SQLite file the read runs in place (adapters.sql.in_place); on PostgreSQL reads made together
    go out as one batch (adapters.sql.coalesce) on the reader's own connection (adapters.sql.read_lane).

    Every read goes to the database, but turning a row into its domain object (JSON, times, pydantic validation:
    about a fifth of the CPU of GET /axon/accounts/{id}) is done once per row content: a read that finds the row it
    found last time for the same key, equal in every column, gets the object built then. `build` must therefore be
    a function of the row alone, and its objects immutable (frozen models whose fields nobody changes in place),
    since readers share them. JSON columns are compared as the stored text (PostgreSQL sends it as text here), so
    `1` and `1.0` or `true` are never taken for the same row."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: Any,
        build: Callable[[dict[str, Any]], T],
        computed: tuple[str, str] | None = None,
        *,
        key: str = "id",
    ) -> None:
        """`build(values)`: the domain object of a row, from its column values (JSON parsed, times in UTC); it may
        change `values`. `computed`: (name, SQL expression) of one more value read with the row, in the dialect of
        `engine` (a subquery on the row's id, say), passed to `build` under `name` as the driver gives it. `key`: the
        column `get` looks the row up by, the primary key or another column unique within the organization."""
        self._engine = reader(engine)
        self._sqlite = engine.dialect.name == "sqlite"
        columns = list(table.c.keys())
        mark = ("?", "?") if self._sqlite else ("$1", "$2")
        self._json = {c.name for c in table.c if isinstance(c.type, JSON)}
        selected = [
            f"{table.name}.{c}::text AS {c}" if c in self._json and not self._sqlite else f"{table.name}.{c}"
            for c in columns
        ] + ([f"{computed[1]} AS {computed[0]}"] if computed else [])
        self._sql = (
            # Built once from the table definition; values are always bound parameters.
            f"SELECT {', '.join(selected)} FROM {table.name}"  # noqa: S608
            f" WHERE {table.name}.{table.c[key].name} = {mark[0]} AND {table.name}.organization_id = {mark[1]}"
        )
        # Many rows at once on PostgreSQL, each (key, organization) pair joined to the table.
        self._many_sql = (
            f"SELECT {', '.join(selected)} FROM {table.name}"  # noqa: S608
            f" JOIN unnest($1::text[], $2::text[]) AS wanted(key, organization_id)"
            f" ON {table.name}.{table.c[key].name} = wanted.key"
            f" AND {table.name}.organization_id = wanted.organization_id"
        )
        self._key_at = columns.index(table.c[key].name)
        self._organization_at = columns.index("organization_id")
        columns += [computed[0]] if computed else []
        self._times = {c.name for c in table.c if isinstance(c.type, UTCDateTime)}
        self._columns = columns
        self._build = build
        self._built: dict[tuple[str, str], tuple[tuple[Any, ...], T]] = {}
        path = database_file(engine)
        self._local = LocalSqlite(path) if path else None
        # PostgreSQL: one batch at a time, on the lane's connection; the keys asked for meanwhile make the next batch.
        # Two batches in flight (two held connections) made smaller batches that cost more than the wait they saved:
        # bench.reads' account GET at 0.46 of the bare endpoint against 0.50.
        self._together: Coalescer[tuple[str, str], tuple[Any, ...]] | None = None
        if not self._sqlite:
            lane = lane_for(engine, f"{table.name}.{key}")
            self._together = Coalescer(partial(self._fetch_many, lane), self._fetch_one, max_in_flight=1)

    async def get(self, row_key: str, organization_id: str) -> T | None:
        wanted = (row_key, organization_id)
        rows = self._local.fetch(self._sql, wanted) if self._local else None
        if rows is not None:
            row = tuple(rows[0]) if rows else None
        elif self._together is not None:
            row = await self._together.get(wanted)
        else:
            row = await self._fetch_one(wanted)
        if row is None:
            return None
        known = self._built.get(wanted)
        if known is not None and known[0] == row:
            return known[1]
        built = self._build(self._values(row))
        if known is None and len(self._built) >= REMEMBERED_ROWS:
            del self._built[next(iter(self._built))]  # the key remembered longest ago
        self._built[wanted] = (row, built)
        return built

    def _values(self, row: tuple[Any, ...]) -> dict[str, Any]:
        values = dict(zip(self._columns, row, strict=True))
        for name in self._json:
            if isinstance(values[name], str):
                values[name] = json_text.loads(values[name])
        for name in self._times:
            moment = values[name]
            if isinstance(moment, str):
                moment = datetime.fromisoformat(moment)
            if isinstance(moment, datetime):
                values[name] = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return values

    async def _fetch_one(self, wanted: tuple[str, str]) -> tuple[Any, ...] | None:
        # The pool's connection itself, without a SQLAlchemy Connection around it: half the client-side cost. On
        # PostgreSQL this is also where a failed batch's keys are read again: through the pool, not the lane.
        return _row(await on_pooled(self._engine, partial(self._read_one, wanted)))

    async def _read_one(self, wanted: tuple[str, str], raw: Any) -> Any:
        if self._sqlite:
            async with raw.execute(self._sql, wanted) as cursor:
                return await cursor.fetchone()
        return await raw.fetchrow(self._sql, *wanted)

    async def _fetch_many(
        self, lane: ReadLane, wanted: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Any, ...]]:
        if len(wanted) == 1:
            row = _row(await lane.run(partial(self._read_one, wanted[0])))
            return {wanted[0]: row} if row is not None else {}
        keys, organizations = [k for k, _ in wanted], [o for _, o in wanted]
        rows = await lane.run(lambda raw: raw.fetch(self._many_sql, keys, organizations))
        return {(row[self._key_at], row[self._organization_at]): tuple(row) for row in rows}


def _row(record: Any) -> tuple[Any, ...] | None:
    return tuple(record) if record is not None else None
