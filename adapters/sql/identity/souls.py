"""Souls in SQL; `account_ids` comes from the account rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import json_text
from adapters.sql.identity.common import (
    ACCOUNT,
    PERSONA,
    PROXY,
    SOUL,
    RawReader,
    SqlStore,
    account_ids_by,
    exists,
    keyset_page,
    replace_row,
)
from domain.errors import NotFound
from domain.identity.ports import InUse, ReferenceNotFound
from domain.identity.souls import Soul, SoulFilter
from domain.pagination import Page, PageRequest


def _row(soul: Soul) -> dict[str, Any]:
    data = soul.model_dump(exclude={"account_ids", "metadata"})
    data["metadata"] = soul.metadata
    data["name_search"] = " ".join(soul.name.lower().split())
    return data


def _soul(row: Row[Any], account_ids: list[str]) -> Soul:
    m = dict(row._mapping)
    m.pop("name_search", None)
    return Soul(**m, account_ids=account_ids)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _check_refs(conn: AsyncConnection, soul: Soul) -> None:
    if soul.persona_id and not await exists(conn, PERSONA, soul.organization_id, soul.persona_id):
        raise ReferenceNotFound("personaId", "Persona", soul.persona_id)
    if soul.proxy_id and not await exists(conn, PROXY, soul.organization_id, soul.proxy_id):
        raise ReferenceNotFound("proxyId", "Proxy", soul.proxy_id)


# A soul's account ids, read with its row (in the order account_ids_by gives: created_at, then id). SQLite before
# 3.44 cannot order inside an aggregate: the pairs come as JSON and are sorted here (its times sort as text).
_ACCOUNT_IDS_SQLITE = (
    "(SELECT json_group_array(json_array(a.created_at, a.id)) FROM account AS a WHERE a.soul_id = soul.id)"
)
_ACCOUNT_IDS_PG = "array(SELECT a.id FROM account AS a WHERE a.soul_id = soul.id ORDER BY a.created_at, a.id)"


def _account_ids(value: Any) -> list[str]:
    if isinstance(value, str):
        return [account_id for _, account_id in sorted(json_text.loads(value))]
    return list(value or [])


def _soul_of(values: dict[str, Any]) -> Soul:
    values.pop("name_search", None)
    values["account_ids"] = _account_ids(values["account_ids"])
    return Soul(**values)


class SqlSoulRepository(SqlStore):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        sql = _ACCOUNT_IDS_SQLITE if engine.dialect.name == "sqlite" else _ACCOUNT_IDS_PG
        self._by_id = RawReader(engine, SOUL, _soul_of, computed=("account_ids", sql))

    async def add(self, soul: Soul) -> None:
        async with self.write() as conn:
            await _check_refs(conn, soul)
            await conn.execute(insert(SOUL).values(_row(soul)))

    async def get(self, organization_id: str, soul_id: str) -> Soul | None:
        # One statement straight through the driver (RawReader): the hottest read of the matrix and of posting.
        return await self._by_id.get(soul_id, organization_id)

    async def find(self, organization_id: str, filters: SoulFilter, page: PageRequest) -> Page[Soul]:
        stmt = select(SOUL).where(SOUL.c.organization_id == organization_id)
        if filters.status:
            stmt = stmt.where(SOUL.c.status == filters.status.value)
        if filters.search:
            term = _like_escape(" ".join(filters.search.lower().split()))
            stmt = stmt.where(
                or_(
                    SOUL.c.name_search.like(f"{term}%", escape="\\"), SOUL.c.name_search.like(f"% {term}%", escape="\\")
                )
            )
        async with self.reader.connect() as conn:
            rows, cursor = await keyset_page(conn, stmt, SOUL, page)
            ids = await account_ids_by(conn, ACCOUNT.c.soul_id, [r.id for r in rows])
        return Page(items=[_soul(r, ids[r.id]) for r in rows], next_cursor=cursor)

    async def update(self, soul: Soul, *, expected_updated_at: datetime | None = None) -> Soul:
        async with self.write() as conn:
            await _check_refs(conn, soul)
            values = _row(soul)
            del values["created_at"]
            await replace_row(conn, SOUL, "Soul", (soul.organization_id, soul.id), values, expected_updated_at)
            ids = await account_ids_by(conn, ACCOUNT.c.soul_id, [soul.id])
        return soul.model_copy(update={"account_ids": ids[soul.id]})

    async def delete(self, organization_id: str, soul_id: str, *, cascade: bool) -> list[str]:
        async with self.write() as conn:
            if not await exists(conn, SOUL, organization_id, soul_id):
                raise NotFound("Soul", soul_id)
            accounts = (await account_ids_by(conn, ACCOUNT.c.soul_id, [soul_id]))[soul_id]
            if accounts and not cascade:
                raise InUse(
                    f"The soul still has {len(accounts)} account(s); delete or move them, or pass cascade=true.",
                    code="soul_has_accounts",
                    accountIds=accounts,
                )
            if accounts:
                await conn.execute(delete(ACCOUNT).where(ACCOUNT.c.soul_id == soul_id))
            await conn.execute(delete(SOUL).where(SOUL.c.id == soul_id))
        return accounts
