"""Proxies in SQL; `assigned_account_ids` comes from the account rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from adapters.sql.identity.common import ACCOUNT, PROXY, SOUL, SqlStore, account_ids_by, keyset_page, replace_row
from domain.errors import NotFound
from domain.identity.ports import InUse
from domain.identity.proxies import (
    HealthRecord,
    HealthRules,
    HealthStatus,
    HealthUpdate,
    Proxy,
    ProxyFilter,
    apply_health,
)
from domain.pagination import Page, PageRequest

# Written only by record_health, so an edit of the proxy never overwrites a concurrent health check.
_HEALTH = (
    "last_health_check", "health_status", "response_time_ms", "uptime_percentage", "recent_checks",
    "last_error", "exit_ip",
)  # fmt: skip


def _proxy(row: Row[Any], account_ids: list[str]) -> Proxy:
    return Proxy(**row._mapping, assigned_account_ids=account_ids)


class SqlProxyRepository(SqlStore):
    async def add(self, proxy: Proxy) -> None:
        async with self.write() as conn:
            await conn.execute(insert(PROXY).values(proxy.model_dump(exclude={"assigned_account_ids"})))

    async def get(self, organization_id: str, proxy_id: str) -> Proxy | None:
        stmt = select(PROXY).where(PROXY.c.id == proxy_id, PROXY.c.organization_id == organization_id)
        async with self.reader.connect() as conn:
            row = (await conn.execute(stmt)).first()
            if row is None:
                return None
            ids = await account_ids_by(conn, ACCOUNT.c.proxy_id, [proxy_id])
        return _proxy(row, ids[proxy_id])

    async def find(self, organization_id: str, filters: ProxyFilter, page: PageRequest) -> Page[Proxy]:
        stmt = select(PROXY).where(PROXY.c.organization_id == organization_id)
        if filters.status:
            stmt = stmt.where(PROXY.c.status == filters.status.value)
        if filters.health_status:
            stmt = stmt.where(PROXY.c.health_status == filters.health_status.value)
        async with self.reader.connect() as conn:
            rows, cursor = await keyset_page(conn, stmt, PROXY, page)
            ids = await account_ids_by(conn, ACCOUNT.c.proxy_id, [r.id for r in rows])
        return Page(items=[_proxy(r, ids[r.id]) for r in rows], next_cursor=cursor)

    async def update(self, proxy: Proxy, *, expected_updated_at: datetime | None = None) -> Proxy:
        values = proxy.model_dump(exclude={"assigned_account_ids", "created_at", "id", "organization_id", *_HEALTH})
        async with self.write() as conn:
            await replace_row(conn, PROXY, "Proxy", (proxy.organization_id, proxy.id), values, expected_updated_at)
        fresh = await self.get(proxy.organization_id, proxy.id)
        if fresh is None:
            raise NotFound("Proxy", proxy.id)
        return fresh

    async def record_health(
        self, organization_id: str, proxy_id: str, health: HealthUpdate, rules: HealthRules
    ) -> HealthRecord | None:
        async with self.write() as conn:
            stmt = select(PROXY).where(PROXY.c.id == proxy_id, PROXY.c.organization_id == organization_id)
            row = (await conn.execute(stmt)).first()
            if row is None:
                return None
            ids = await account_ids_by(conn, ACCOUNT.c.proxy_id, [proxy_id])
            before = _proxy(row, ids[proxy_id])
            checked = apply_health(before, health, rules)
            await conn.execute(
                update(PROXY).where(PROXY.c.id == proxy_id).values(checked.model_dump(include=set(_HEALTH)))
            )
            # On every check, not only on a change: an account moved here by a concurrent edit is caught up too.
            failed = checked.health_status is HealthStatus.FAILED
            await conn.execute(
                update(ACCOUNT)
                .where(ACCOUNT.c.proxy_id == proxy_id, ACCOUNT.c.proxy_failed != failed)
                .values(proxy_failed=failed)
            )
        return HealthRecord(proxy=checked, previous=before.health_status)

    async def delete(self, organization_id: str, proxy_id: str, *, unassign: bool) -> list[str]:
        async with self.write() as conn:
            stmt = select(PROXY.c.id).where(PROXY.c.id == proxy_id, PROXY.c.organization_id == organization_id)
            if (await conn.execute(stmt)).first() is None:
                raise NotFound("Proxy", proxy_id)
            accounts = (await account_ids_by(conn, ACCOUNT.c.proxy_id, [proxy_id]))[proxy_id]
            souls = list(
                (await conn.execute(select(SOUL.c.id).where(SOUL.c.proxy_id == proxy_id).order_by(SOUL.c.id))).scalars()
            )
            if (accounts or souls) and not unassign:
                raise InUse(
                    f"The proxy is assigned to {len(accounts)} account(s) and is the default of {len(souls)} soul(s); "
                    "unassign it first or pass unassign=true.",
                    code="proxy_in_use",
                    accountIds=accounts,
                    soulIds=souls,
                )
            await conn.execute(
                update(ACCOUNT).where(ACCOUNT.c.proxy_id == proxy_id).values(proxy_id=None, proxy_failed=False)
            )
            await conn.execute(update(SOUL).where(SOUL.c.proxy_id == proxy_id).values(proxy_id=None))
            await conn.execute(delete(PROXY).where(PROXY.c.id == proxy_id))
        return accounts
