"""Accounts in SQL. The unique (organization, platform, handle) constraint and the foreign keys keep them honest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.identity.common import ACCOUNT, PROXY, SOUL, RawReader, SqlStore, exists, keyset_page
from domain.errors import NotFound
from domain.identity.accounts import Account, AccountFilter
from domain.identity.ports import DuplicateHandle, IntegrationLinked, ReferenceNotFound
from domain.pagination import Page, PageRequest


def _row(account: Account) -> dict[str, Any]:
    return account.model_dump()


def account_from_row(row: Row[Any]) -> Account:
    return Account.model_validate(dict(row._mapping))


async def _check_refs(conn: AsyncConnection, account: Account) -> None:
    if not await exists(conn, SOUL, account.organization_id, account.soul_id):
        raise ReferenceNotFound("soulId", "Soul", account.soul_id)
    if account.proxy_id and not await exists(conn, PROXY, account.organization_id, account.proxy_id):
        raise ReferenceNotFound("proxyId", "Proxy", account.proxy_id)


class SqlAccountRepository(SqlStore):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._by_id = RawReader(engine, ACCOUNT)

    async def add(self, account: Account) -> None:
        try:
            async with self.write() as conn:
                await _check_refs(conn, account)
                await conn.execute(insert(ACCOUNT).values(_row(account)))
        except IntegrityError as exc:
            raise DuplicateHandle(account.platform.value, account.handle) from exc

    async def get(self, organization_id: str, account_id: str) -> Account | None:
        values = await self._by_id.get(account_id, organization_id)
        return Account.model_validate(values) if values else None

    async def find(self, organization_id: str, filters: AccountFilter, page: PageRequest) -> Page[Account]:
        stmt = select(ACCOUNT).where(ACCOUNT.c.organization_id == organization_id)
        if filters.soul_id:
            stmt = stmt.where(ACCOUNT.c.soul_id == filters.soul_id)
        if filters.handle:
            stmt = stmt.where(ACCOUNT.c.handle == filters.handle)
        if filters.integration_id:
            stmt = stmt.where(ACCOUNT.c.integration_id == filters.integration_id)
        if filters.platform:
            stmt = stmt.where(ACCOUNT.c.platform == filters.platform.value)
        if filters.status:
            stmt = stmt.where(ACCOUNT.c.status == filters.status.value)
        async with self.reader.connect() as conn:
            rows, cursor = await keyset_page(conn, stmt, ACCOUNT, page)
        return Page(items=[account_from_row(r) for r in rows], next_cursor=cursor)

    async def update(self, account: Account) -> Account:
        try:
            async with self.write() as conn:
                await _check_refs(conn, account)
                values = _row(account)
                del values["created_at"]
                result = await conn.execute(
                    update(ACCOUNT)
                    .where(ACCOUNT.c.id == account.id, ACCOUNT.c.organization_id == account.organization_id)
                    .values(values)
                )
                if result.rowcount != 1:
                    raise NotFound("Account", account.id)
        except IntegrityError as exc:
            if account.integration_id and "integration" in str(exc.orig).lower():
                raise IntegrationLinked(account.integration_id) from exc
            raise DuplicateHandle(account.platform.value, account.handle) from exc
        return account

    async def delete(self, organization_id: str, account_id: str) -> None:
        async with self.write() as conn:
            result = await conn.execute(
                delete(ACCOUNT).where(ACCOUNT.c.id == account_id, ACCOUNT.c.organization_id == organization_id)
            )
            if result.rowcount != 1:
                raise NotFound("Account", account_id)
