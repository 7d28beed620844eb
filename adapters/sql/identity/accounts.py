"""Accounts in SQL. The unique (organization, platform, handle) constraint and the foreign keys keep them honest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.identity.common import ACCOUNT, PROXY, SOUL, RawReader, SqlStore, exists, keyset_page, replace_row
from domain.errors import NotFound
from domain.identity.accounts import Account, AccountFilter, AccountStatus
from domain.identity.ports import (
    DuplicateHandle,
    IntegrationLinked,
    LinkChanged,
    ReferenceNotFound,
    WarmingChange,
)
from domain.identity.proxies import HealthStatus
from domain.pagination import Page, PageRequest


def _row(account: Account) -> dict[str, Any]:
    return account.model_dump()


def account_from_row(row: Row[Any]) -> Account:
    return Account.model_validate(dict(row._mapping))


async def _check_refs(conn: AsyncConnection, account: Account) -> Account:
    """The account as it may be written: its references exist, and `proxy_failed` says whether its proxy is failed."""
    if not await exists(conn, SOUL, account.organization_id, account.soul_id):
        raise ReferenceNotFound("soulId", "Soul", account.soul_id)
    proxy_failed = False
    if account.proxy_id:
        stmt = select(PROXY.c.health_status).where(
            PROXY.c.id == account.proxy_id, PROXY.c.organization_id == account.organization_id
        )
        health = (await conn.execute(stmt)).scalar()
        if health is None:
            raise ReferenceNotFound("proxyId", "Proxy", account.proxy_id)
        proxy_failed = health == HealthStatus.FAILED
    return account.model_copy(update={"proxy_failed": proxy_failed})


class SqlAccountRepository(SqlStore):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._by_id = RawReader(engine, ACCOUNT, Account.model_validate)
        # integration_id is unique (uq_account_integration_id)
        self._by_integration = RawReader(engine, ACCOUNT, Account.model_validate, key="integration_id")

    async def add(self, account: Account) -> Account:
        try:
            async with self.write() as conn:
                stored = await _check_refs(conn, account)
                await conn.execute(insert(ACCOUNT).values(_row(stored)))
        except IntegrityError as exc:
            raise DuplicateHandle(account.platform.value, account.handle) from exc
        return stored

    async def get(self, organization_id: str, account_id: str) -> Account | None:
        return await self._by_id.get(account_id, organization_id)

    async def linked_to(self, organization_id: str, integration_id: str) -> Account | None:
        return await self._by_integration.get(integration_id, organization_id)

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

    async def update(self, account: Account, *, expected_updated_at: datetime | None = None) -> Account:
        try:
            async with self.write() as conn:
                account = await _check_refs(conn, account)
                values = _row(account)
                del values["created_at"]
                key = (account.organization_id, account.id)
                await replace_row(conn, ACCOUNT, "Account", key, values, expected_updated_at)
        except IntegrityError as exc:
            if account.integration_id and "integration" in str(exc.orig).lower():
                raise IntegrationLinked(account.integration_id) from exc
            raise DuplicateHandle(account.platform.value, account.handle) from exc
        return account

    async def set_integration(
        self,
        organization_id: str,
        account_id: str,
        integration_id: str | None,
        *,
        expected: str | None,
        updated_at: datetime,
    ) -> Account:
        # Conditional on the link the caller saw: of two concurrent changes, the second finds it changed.
        still = ACCOUNT.c.integration_id.is_(None) if expected is None else ACCOUNT.c.integration_id == expected
        try:
            async with self.write() as conn:
                result = await conn.execute(
                    update(ACCOUNT)
                    .where(ACCOUNT.c.id == account_id, ACCOUNT.c.organization_id == organization_id, still)
                    .values(integration_id=integration_id, updated_at=updated_at)
                )
                if result.rowcount != 1:
                    stmt = select(ACCOUNT.c.integration_id).where(
                        ACCOUNT.c.id == account_id, ACCOUNT.c.organization_id == organization_id
                    )
                    now_linked = (await conn.execute(stmt)).first()
                    if now_linked is None:
                        raise NotFound("Account", account_id)
                    if now_linked.integration_id != integration_id:  # else: already as asked
                        raise LinkChanged(account_id)
        except IntegrityError as exc:  # the unique link: another account holds the integration
            holder = await self._holder(integration_id) if integration_id else None
            raise IntegrationLinked(integration_id or "", holder) from exc
        account = await self.get(organization_id, account_id)
        if account is None:
            raise NotFound("Account", account_id)
        return account

    async def record_warning(
        self, organization_id: str, account_id: str, *, cooldown_until: datetime, reason: str, updated_at: datetime
    ) -> Account | None:
        async with self.write() as conn:
            where = (ACCOUNT.c.id == account_id, ACCOUNT.c.organization_id == organization_id)
            stmt = select(ACCOUNT.c.cooldown_until, ACCOUNT.c.cooldown_reason).where(*where).with_for_update()
            current = (await conn.execute(stmt)).first()
            if current is None:
                return None
            # A longer cooldown already running stays (with its reason).
            if current.cooldown_until is not None and current.cooldown_until >= cooldown_until:
                cooldown_until, reason = current.cooldown_until, current.cooldown_reason
            await conn.execute(
                update(ACCOUNT)
                .where(*where)
                .values(
                    warning_count=ACCOUNT.c.warning_count + 1,
                    cooldown_until=cooldown_until,
                    cooldown_reason=reason,
                    updated_at=updated_at,
                )
            )
        return await self.get(organization_id, account_id)

    async def update_warming(
        self,
        organization_id: str,
        account_id: str,
        change: WarmingChange,
        *,
        updated_at: datetime,
        last_activity_at: datetime | None = None,
        status: AccountStatus | None = None,
    ) -> Account | None:
        async with self.write() as conn:
            where = (ACCOUNT.c.id == account_id, ACCOUNT.c.organization_id == organization_id)
            current = (await conn.execute(select(ACCOUNT.c.metrics).where(*where).with_for_update())).first()
            if current is None:
                return None
            metrics = dict(current.metrics or {})
            metrics["warming"] = change(dict(metrics.get("warming") or {}))
            values: dict[str, Any] = {"metrics": metrics, "updated_at": updated_at}
            if last_activity_at is not None:
                values["last_activity_at"] = last_activity_at
            if status is not None:
                values["status"] = status.value
            await conn.execute(update(ACCOUNT).where(*where).values(values))
        return await self.get(organization_id, account_id)

    async def _holder(self, integration_id: str) -> str | None:
        async with self.reader.connect() as conn:
            stmt = select(ACCOUNT.c.id).where(ACCOUNT.c.integration_id == integration_id)
            holder: str | None = (await conn.execute(stmt)).scalar()
        return holder

    async def delete(self, organization_id: str, account_id: str) -> None:
        async with self.write() as conn:
            result = await conn.execute(
                delete(ACCOUNT).where(ACCOUNT.c.id == account_id, ACCOUNT.c.organization_id == organization_id)
            )
            if result.rowcount != 1:
                raise NotFound("Account", account_id)
