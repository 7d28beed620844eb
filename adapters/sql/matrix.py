"""The Matrix's hot paths straight through the driver (aiosqlite or asyncpg), outside any unit of work.

A matrix page carries thousands of mappings: the database writes each mapping's JSON itself, so the API makes no
Python object per mapping. A mapping operation is one statement, or one short transaction, and every check that reads
the document store runs before it: on SQLite the write lock is held for the mapping statements alone.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from adapters.sql.channels import INTEGRATION
from adapters.sql.engine import gated, reader, write_gate
from adapters.sql.in_place import LocalSqlite, database_file
from adapters.sql.in_place_writes import LocalWrites
from adapters.sql.types import UTCDateTime
from domain.channels.integrations import Integration
from domain.channels.matrix import Mapping
from domain.channels.ports import NewMapping
from domain.errors import Conflict
from domain.identity.platforms import Platform
from domain.identity.souls import SoulStatus

_COLUMNS = (
    "id, organization_id, soul_id, integration_id, platform, account_id, is_primary, priority, notes, created_at,"
    " updated_at"
)
_COLUMN_NAMES = _COLUMNS.split(", ")
# What the matrix shows of a channel (IntegrationOut): its tokens are never read here.
_INTEGRATION_COLUMNS = (
    "id, organization_id, provider_identifier, internal_id, name, handle, picture, api_base, token_expiration,"
    " disabled, refresh_needed, created_at, updated_at"
)
_INTEGRATION_NAMES = _INTEGRATION_COLUMNS.split(", ")
_INTEGRATION_TIMES = {c.name for c in INTEGRATION.c if isinstance(c.type, UTCDateTime)} & set(_INTEGRATION_NAMES)
# The fields a PATCH may change; the SET clause is built from these names only.
_UPDATABLE = ("account_id", "priority", "notes")
# A large matrix page is read in up to this many parts at once, of at least this many souls each.
_READ_PARTS, _SOULS_PER_PART = 2, 250
# Attempts at a write that met a concurrent writer (see _RACES).
_ATTEMPTS = 3

# One mapping as the API's JSON (camelCase, ISO times ending in Z, microseconds dropped when zero, as Python's
# isoformat does), written by the database. SQLite stores times as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC).
_SQLITE_TIME = "replace(replace({c}, ' ', 'T'), '.000000', '') || 'Z'"
_SQLITE_JSON = (
    "json_object('id', id, 'soulId', soul_id, 'integrationId', integration_id, 'platform', platform,"
    " 'accountId', account_id, 'isPrimary', json(CASE WHEN is_primary THEN 'true' ELSE 'false' END),"
    f" 'priority', priority, 'notes', notes, 'createdAt', {_SQLITE_TIME.format(c='created_at')},"
    f" 'updatedAt', {_SQLITE_TIME.format(c='updated_at')})"
)
# PostgreSQL's json_build_object costs more than concatenating the parts (to_json escapes the text).
_PG_TIME = """replace(to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', '') || 'Z'"""
_PG_JSON = (
    """'{"id":' || to_json(id)::text || ',"soulId":' || to_json(soul_id)::text"""
    """ || ',"integrationId":' || to_json(integration_id)::text || ',"platform":' || to_json(platform)::text"""
    """ || ',"accountId":' || coalesce(to_json(account_id)::text, 'null')"""
    """ || ',"isPrimary":' || CASE WHEN is_primary THEN 'true' ELSE 'false' END || ',"priority":' || priority::text"""
    """ || ',"notes":' || coalesce(to_json(notes)::text, 'null')"""
    f""" || ',"createdAt":"' || {_PG_TIME.format(c="created_at")}"""
    f""" || '","updatedAt":"' || {_PG_TIME.format(c="updated_at")} || '"}}'"""
)

# A mapping insert. The platform comes from the integration, read in the insert itself (no row when the
# organization has no such integration). `s` is the soul: the id as given (`_GIVEN`), or, when this database holds the
# souls and accounts, the soul row checked in the same statement (`_CHECKED`: in the organization and not being
# deleted, ensure_accepts_work), and then the account is the one linked to the channel: one statement, not three.
_ADD = (
    "INSERT INTO soul_integration_mapping (id, organization_id, soul_id, integration_id, platform, account_id,"
    " is_primary, priority, notes, created_at, updated_at)"
    " SELECT ?::varchar, i.organization_id, s.id, i.id, i.provider_identifier, {account}, {primary},"
    " ?::integer, ?::varchar, ?::timestamptz, ?::timestamptz"
    " FROM integration AS i {soul} WHERE i.id = ? AND i.organization_id = ?"
    " ON CONFLICT (soul_id, integration_id) DO NOTHING RETURNING platform, is_primary, account_id"
)
_GIVEN = {"account": "?::varchar", "soul": "CROSS JOIN (SELECT ?::varchar AS id) AS s"}
_CHECKED = {
    "account": "(SELECT a.id FROM account AS a WHERE a.integration_id = i.id"
    " AND a.organization_id = i.organization_id)",
    "soul": "JOIN soul AS s ON s.id = ? AND s.organization_id = i.organization_id AND s.status <> ?::varchar",
}
# `primary` decided in the insert: the first mapping of the soul on the platform is its primary, so no other write
# can slip between the check and the insert.
_FIRST_ON_PLATFORM = (
    "NOT EXISTS (SELECT 1 FROM soul_integration_mapping AS m WHERE m.organization_id = i.organization_id"
    " AND m.soul_id = s.id AND m.platform = i.provider_identifier AND m.is_primary)"
)

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)
# What a concurrent writer can cause, and a fresh attempt resolves: a unique index met (two primaries at once), a
# channel deleted meanwhile, or (PostgreSQL) a deadlock between two promotions waiting on each other's index entry.
_RACES: tuple[type[BaseException], ...] = (
    sqlite3.IntegrityError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.TransactionRollbackError,
)


def _typed(sql: str, sqlite: bool) -> str:
    """PostgreSQL needs the types of parameters it cannot infer (a SELECT's output); SQLite takes none."""
    return re.sub(r"::[a-z]+", "", sql) if sqlite else sql


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (the statements here have no `?` anywhere else)."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


def _shown(organization_id: str, platform: Platform | None, connected_only: bool) -> tuple[str, list[Any]]:
    """The integrations a matrix shows, as a condition on their table (it filters the mappings too)."""
    shown = "organization_id = ?"
    args: list[Any] = [organization_id]
    if platform is not None:
        shown += " AND provider_identifier = ?"
        args.append(platform.value)
    if connected_only:
        shown += " AND NOT disabled AND NOT refresh_needed"
    return shown, args


def _concurrent_change() -> Conflict:
    return Conflict(
        "Another change to this soul's mappings happened at the same moment; retry.", code="concurrent_change"
    )


class SqlMatrixStore:
    """Implements domain.channels.ports.MatrixStore on SQLite and PostgreSQL."""

    def __init__(self, engine: AsyncEngine, *, holds_souls: bool = False) -> None:
        # True when the document store is this database too (DOCUMENT_STORE=sql): add_checked may read souls.
        self.holds_souls = holds_souls
        self._reader = reader(engine)
        path = database_file(engine)
        self._local = LocalSqlite(path) if path else None
        self._local_writes = LocalWrites(path) if path else None
        self._gate = write_gate(engine)
        self._sqlite = engine.dialect.name == "sqlite"
        sql = {
            "get": (
                "SELECT id, organization_id, soul_id, integration_id, platform, account_id, is_primary, priority,"
                " notes, created_at, updated_at FROM soul_integration_mapping WHERE id = ? AND organization_id = ?"
            ),
            "delete_pair": (
                "DELETE FROM soul_integration_mapping WHERE organization_id = ? AND soul_id = ? AND integration_id = ?"
                " RETURNING id"
            ),
            "delete": "DELETE FROM soul_integration_mapping WHERE id = ? AND organization_id = ? RETURNING id",
            **{
                f"add{kind}{auto}": _typed(_ADD.format(primary=primary, **parts), self._sqlite)
                for kind, parts in (("", _GIVEN), ("_checked", _CHECKED))
                for auto, primary in (("_auto", _FIRST_ON_PLATFORM), ("", "?::boolean"))
            },
            "demote": (
                "UPDATE soul_integration_mapping SET is_primary = ? WHERE organization_id = ? AND soul_id = ?"
                " AND is_primary AND platform = (SELECT provider_identifier FROM integration"
                " WHERE id = ? AND organization_id = ?)"
            ),
            # PostgreSQL: promotions of one soul and platform take turns on the rows of that group, in one order.
            # Otherwise two of them can each wait for the other's new index entry (a deadlock, found after 1 s).
            "lock": (
                "SELECT id FROM soul_integration_mapping WHERE organization_id = ? AND soul_id = ?"
                " AND platform = (SELECT provider_identifier FROM integration WHERE id = ? AND organization_id = ?)"
                " ORDER BY id FOR UPDATE"
            ),
            # PostgreSQL: lock the group, demote, promote; one call of the migration's function (one round trip).
            "promote": f"SELECT {_COLUMNS} FROM promote_mapping(?, ?, ?)",  # noqa: S608 - constant text
            # SQLite: demotes the other primary of the mapping's soul and platform, found from the mapping's id.
            "demote_for": (
                "UPDATE soul_integration_mapping SET is_primary = ?"
                " WHERE organization_id = ? AND is_primary AND id <> ?"
                " AND soul_id = (SELECT soul_id FROM soul_integration_mapping WHERE id = ? AND organization_id = ?)"
                " AND platform = (SELECT platform FROM soul_integration_mapping WHERE id = ? AND organization_id = ?)"
            ),
            "integration": (
                "SELECT id, organization_id, provider_identifier, internal_id, name, handle, picture, api_base,"
                " token_expiration, disabled, refresh_needed, created_at, updated_at"
                " FROM integration WHERE id = ? AND organization_id = ?"
            ),
        }
        self._sql = sql if self._sqlite else {name: _numbered(text) for name, text in sql.items()}

    # --- reads -----------------------------------------------------------------------------------------------------

    async def integrations(
        self, organization_id: str, *, platform: Platform | None, connected_only: bool
    ) -> list[Integration]:
        shown, args = _shown(organization_id, platform, connected_only)
        return await self._integrations(shown, args)

    async def mappings(
        self, organization_id: str, soul_ids: Sequence[str], *, platform: Platform | None, connected_only: bool
    ) -> dict[str, str]:
        only = _shown(organization_id, platform, connected_only) if platform is not None or connected_only else None
        # A large page is read in parts on separate connections: the database renders them at the same time.
        parts = max(1, min(_READ_PARTS, len(soul_ids) // _SOULS_PER_PART))
        size = max(1, -(-len(soul_ids) // parts))
        chunks = [soul_ids[i : i + size] for i in range(0, len(soul_ids), size)]
        read = await asyncio.gather(*(self._mappings(organization_id, chunk, only) for chunk in chunks))
        return {soul_id: text for part in read for soul_id, text in part.items()}

    async def _integrations(self, shown: str, args: list[Any]) -> list[Integration]:
        sql = f"SELECT {_INTEGRATION_COLUMNS} FROM integration WHERE {shown} ORDER BY created_at, id"  # noqa: S608
        async with self._connection() as raw:
            rows = await self._fetch(raw, sql if self._sqlite else _numbered(sql), args)
        return [self._integration(row) for row in rows]

    async def _mappings(
        self, organization_id: str, soul_ids: Sequence[str], only: tuple[str, list[Any]] | None
    ) -> dict[str, str]:
        """Each soul's mappings (to the integrations shown) as JSON, in the order the API lists them."""
        where = "organization_id = ? AND " + (
            f"soul_id IN ({', '.join('?' * len(soul_ids))})"
            if self._sqlite
            # One array parameter, not an IN list: after five runs PostgreSQL plans a prepared IN (...) generically,
            # and that plan filters all the organization's mappings against the list (100+ ms at 20,000 mappings).
            else "soul_id = ANY(?::varchar[])"
        )
        args = [organization_id, *soul_ids] if self._sqlite else [organization_id, list(soul_ids)]
        if only is not None:
            where += f" AND integration_id IN (SELECT id FROM integration WHERE {only[0]})"  # noqa: S608
            args += only[1]
        async with self._connection() as raw:
            if not self._sqlite:  # aggregated per soul by PostgreSQL: one row per soul to decode
                sql = (
                    f"SELECT soul_id, string_agg({_PG_JSON}, ',' ORDER BY priority DESC, created_at, id)"  # noqa: S608
                    f" FROM soul_integration_mapping WHERE {where} GROUP BY soul_id"
                )
                return dict(await self._fetch(raw, _numbered(sql), args))
            # SQLite before 3.44 cannot order inside an aggregate: ordered rows, grouped here.
            sql = (
                f"SELECT soul_id, {_SQLITE_JSON} FROM soul_integration_mapping WHERE {where}"  # noqa: S608
                " ORDER BY soul_id, priority DESC, created_at, id"
            )
            grouped: dict[str, list[str]] = {}
            for soul_id, text in await self._fetch(raw, sql, args):
                texts = grouped.get(soul_id)
                if texts is None:
                    grouped[soul_id] = [text]
                else:
                    texts.append(text)
        return {soul_id: ",".join(texts) for soul_id, texts in grouped.items()}

    async def integration(self, organization_id: str, integration_id: str) -> Integration | None:
        rows = await self._point(self._sql["integration"], [integration_id, organization_id])
        return self._integration(rows[0]) if rows else None

    async def get(self, organization_id: str, mapping_id: str) -> Mapping | None:
        rows = await self._point(self._sql["get"], [mapping_id, organization_id])
        return self._mapping(rows[0]) if rows else None

    # --- writes ----------------------------------------------------------------------------------------------------

    async def add(self, mapping: NewMapping, *, primary: bool | None) -> Mapping | None:
        """None when nothing was added: the soul is mapped to the integration already, or the organization has no
        such integration. `primary` None: primary when the soul has no primary on the platform yet; True: the other
        primary is demoted in the same transaction."""
        m, at = mapping, self._time(mapping.created_at)
        tail = [m.priority, m.notes, at, at, m.soul_id, m.integration_id, m.organization_id]
        return await self._add(m, primary, "add", [m.id, m.account_id], tail)

    async def add_checked(self, mapping: NewMapping, *, primary: bool | None) -> Mapping | None:
        """`add`, checking in the same statement what callers otherwise check first (only when `holds_souls`): the
        soul exists in the organization and is not being deleted. `mapping.account_id` is not used: the mapping
        takes the account linked to the channel, if any. None when nothing was added, for any of these reasons."""
        m, at = mapping, self._time(mapping.created_at)
        tail = [m.priority, m.notes, at, at, m.soul_id, SoulStatus.DELETING.value, m.integration_id, m.organization_id]
        return await self._add(m, primary, "add_checked", [m.id], tail)

    async def _add(
        self, m: NewMapping, primary: bool | None, statement: str, head: list[Any], tail: list[Any]
    ) -> Mapping | None:
        """One of the inserts (`statement`), with the arguments before and after its primary flag."""
        for attempt in range(_ATTEMPTS):
            try:
                async with self._writing() as raw:
                    if primary is None:
                        rows = await self._fetch(raw, self._sql[f"{statement}_auto"], [*head, *tail])
                    elif primary:
                        async with self._transaction(raw):
                            if not self._sqlite:
                                group = [m.organization_id, m.soul_id, m.integration_id, m.organization_id]
                                await self._fetch(raw, self._sql["lock"], group)
                            demote = [False, m.organization_id, m.soul_id, m.integration_id, m.organization_id]
                            await self._fetch(raw, self._sql["demote"], demote)
                            rows = await self._fetch(raw, self._sql[statement], [*head, True, *tail])
                            if not rows:
                                raise _NotAdded
                    else:
                        rows = await self._fetch(raw, self._sql[statement], [*head, False, *tail])
            except _NotAdded:
                return None
            except _RACES as exc:  # PostgreSQL only: SQLite writers take turns
                if attempt == _ATTEMPTS - 1:
                    raise _concurrent_change() from exc
                continue
            if not rows:
                return None
            platform, is_primary, account_id = rows[0]
            return Mapping(
                id=m.id, organization_id=m.organization_id, soul_id=m.soul_id, integration_id=m.integration_id,
                platform=platform, account_id=account_id, is_primary=bool(is_primary), priority=m.priority,
                notes=m.notes, created_at=m.created_at, updated_at=m.created_at,
            )  # fmt: skip
        raise AssertionError("unreachable")  # pragma: no cover

    async def update(
        self, organization_id: str, mapping_id: str, changes: dict[str, Any], at: datetime
    ) -> Mapping | None:
        """Sets the PATCHable fields in `changes`; `is_primary: True` also demotes the soul's other primary on the
        platform, in the same transaction. None when there is no such mapping."""
        values = {name: changes[name] for name in _UPDATABLE if name in changes}
        promote = changes.get("is_primary") is True
        sets = [f"{name} = ?" for name in values] + (["is_primary = ?"] if promote else []) + ["updated_at = ?"]
        args = [*values.values(), *([True] if promote else []), self._time(at), mapping_id, organization_id]
        assignments = ", ".join(sets)  # column names from _UPDATABLE only
        where = f"WHERE id = ? AND organization_id = ? RETURNING {_COLUMNS}"
        sql = f"UPDATE soul_integration_mapping SET {assignments} {where}"  # noqa: S608
        sql = sql if self._sqlite else _numbered(sql)
        for attempt in range(_ATTEMPTS):
            try:
                async with self._writing() as raw:
                    if not promote:
                        rows = await self._fetch(raw, sql, args)
                    elif self._sqlite:  # in place: one transaction without round trips
                        async with self._transaction(raw):
                            demote = [False, organization_id, mapping_id, mapping_id, organization_id]
                            await self._fetch(raw, self._sql["demote_for"], [*demote, mapping_id, organization_id])
                            rows = await self._fetch(raw, sql, args)
                    elif not values:  # set primary: the hot path, a single call
                        rows = await self._fetch(raw, self._sql["promote"], [mapping_id, organization_id, at])
                    else:
                        async with self._transaction(raw):
                            rows = await self._fetch(raw, self._sql["promote"], [mapping_id, organization_id, at])
                            if rows:
                                rows = await self._fetch(raw, sql, args)
            except _RACES as exc:  # PostgreSQL only: SQLite writers take turns
                if attempt == _ATTEMPTS - 1:
                    raise _concurrent_change() from exc
                continue
            return self._mapping(rows[0]) if rows else None
        raise AssertionError("unreachable")  # pragma: no cover

    async def delete(self, organization_id: str, mapping_id: str) -> bool:
        async with self._writing() as raw:
            return bool(await self._fetch(raw, self._sql["delete"], [mapping_id, organization_id]))

    async def delete_pair(self, organization_id: str, soul_id: str, integration_id: str) -> bool:
        async with self._writing() as raw:
            return bool(await self._fetch(raw, self._sql["delete_pair"], [organization_id, soul_id, integration_id]))

    # --- driver plumbing -------------------------------------------------------------------------------------------

    async def _point(self, sql: str, args: Sequence[Any]) -> Sequence[Any]:
        """A read of a row or two: in place on a SQLite file (adapters.sql.in_place), else through the pool."""
        if self._local is not None and (rows := self._local.fetch(sql, args)) is not None:
            return rows
        async with self._connection() as raw:
            return await self._fetch(raw, sql, args)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection's driver connection, in autocommit mode: no BEGIN, and no SQLAlchemy Connection
        whose close would send a ROLLBACK (on SQLite, one more hand-off to the connection's thread)."""
        pooled = await self._reader.raw_connection()
        try:
            yield pooled.driver_connection
        except _UNAVAILABLE as exc:
            await greenlet_spawn(pooled.invalidate)
            raise ConnectionError("The database is not answering.") from exc
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):  # busy_timeout ran out
                raise ConnectionError("The database is busy.") from exc
            raise
        finally:
            # In a greenlet: returning an overflow connection (or an invalidated one) closes it, awaiting the driver.
            await greenlet_spawn(pooled.close)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[Any]:
        """A connection for one write (PostgreSQL: autocommit) or one transaction (SQLite in place, see below).

        SQLite: this process's writers queue at the gate, then meet other processes at SQLite's lock. When the lock
        is free at once, the whole write runs in place as one transaction (adapters.sql.in_place_writes): no hand-off
        to aiosqlite's thread. Otherwise the write takes the pooled connection, whose thread waits for the lock."""
        async with gated(self._gate):
            if self._local_writes is not None:
                with self._local_writes.transaction() as conn:
                    if conn is not None:
                        yield _InPlace(conn)
                        return
            async with self._connection() as raw:
                yield raw

    @asynccontextmanager
    async def _transaction(self, raw: Any) -> AsyncIterator[None]:
        if isinstance(raw, _InPlace):  # the whole write is one transaction already
            yield
            return
        if not self._sqlite:
            async with raw.transaction():
                yield
            return
        await raw.execute_fetchall("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await raw.rollback()
            raise
        await raw.commit()

    async def _fetch(self, raw: Any, sql: str, args: Sequence[Any]) -> Sequence[Any]:
        if self._sqlite:
            rows: Sequence[Any] = await raw.execute_fetchall(sql, args)
            return rows
        result: Sequence[Any] = await raw.fetch(sql, *args)
        return result

    def _time(self, moment: datetime) -> Any:
        # SQLite keeps UTC times as text in SQLAlchemy's format (always six fractional digits, so text order is time
        # order); PostgreSQL takes them as they are.
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else moment

    @staticmethod
    def _utc(value: Any) -> Any:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    def _mapping(self, row: Any) -> Mapping:
        values = dict(zip(_COLUMN_NAMES, tuple(row), strict=True))
        values["created_at"] = self._utc(values["created_at"])
        values["updated_at"] = self._utc(values["updated_at"])
        return Mapping.model_validate(values)

    def _integration(self, row: Any) -> Integration:
        values = dict(zip(_INTEGRATION_NAMES, tuple(row), strict=True))
        for name in _INTEGRATION_TIMES:
            values[name] = self._utc(values[name])
        return Integration.model_validate(values)


class _InPlace:
    """A write connection in place, with the one call of aiosqlite's interface used here."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute_fetchall(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return self._conn.execute(sql, tuple(args)).fetchall()


class _NotAdded(Exception):
    """Nothing was inserted (mapped already, or no such integration): the transaction's demotion is rolled back."""
