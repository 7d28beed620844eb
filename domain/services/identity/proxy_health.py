"""Proxy health: one code path for the manual test (`POST /axon/proxies/:id/test`) and the `proxy-health` Schedule.

A check connects through the proxy to the check URL. The store applies the HealthRules (domain/identity/proxies.py)
and sets `proxy_failed` on the proxy's accounts in the same step. A proxy that becomes failed, or recovers, is audited
(`proxy.health_failed` / `proxy.health_recovered`) and handed to the `on_change` hook: the place where warming
schedules get paused and resumed (issue 6 item 2)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from domain.auth import ActorType, Principal
from domain.identity.proxies import (
    HealthRecord,
    HealthRules,
    HealthStatus,
    HealthUpdate,
    Proxy,
    ProxyFilter,
    consecutive_failures,
    proxy_record,
)
from domain.pagination import Cursor, PageRequest
from domain.ports import FieldSealer
from domain.services import audit
from domain.services.identity.souls import IdentityContext

log = logging.getLogger(__name__)

PASSWORD_FIELD = "credentials.password"  # noqa: S105 - a field name, not a secret
# The actor of the audit entries the schedule writes.
SCHEDULE_ACTOR = "proxy-health"
# Organizations read per query while collecting a batch.
_ORGANIZATIONS_PER_QUERY = 100


class ProxyChecker(Protocol):
    async def check(self, proxy: Proxy, password: str | None) -> HealthUpdate:
        """Connect through the proxy to the check URL; never raises for a failing proxy, reports it."""
        ...


@dataclass(frozen=True)
class HealthChange:
    """A proxy became failed (`failed`) or recovered (not `failed`); `account_ids` are the accounts assigned to it."""

    organization_id: str
    proxy_id: str
    proxy_name: str
    failed: bool
    account_ids: list[str] = field(default_factory=list)
    checked_at: datetime | None = None
    error: str | None = None


HealthChangeHook = Callable[[HealthChange], Awaitable[None]]


class HealthCursor(BaseModel):
    """Where the next batch of the schedule's run starts: in `organization_id` after the proxy page cursor
    `proxies_after`, or, when that is None, at the organization after `organization_id`."""

    organization_id: str
    proxies_after: str | None = None


class HealthBatch(BaseModel):
    checked: int = 0
    healthy: int = 0
    degraded: int = 0
    failed: int = 0
    # Checked since the run started (by an earlier attempt of this batch, or a manual test): not counted twice.
    skipped: int = 0
    # Proxies the check could not be recorded for (an unreadable password, a store error); tried again next run.
    errors: list[str] = []
    newly_failed: list[str] = []
    recovered: list[str] = []
    next: HealthCursor | None = None


class ProxyHealth:
    def __init__(
        self,
        ctx: IdentityContext,
        sealer: FieldSealer,
        checker: ProxyChecker,
        rules: HealthRules,
        on_change: HealthChangeHook | None = None,
    ) -> None:
        self._ctx = ctx
        self._sealer = sealer
        self._checker = checker
        self.rules = rules
        self._on_change = on_change

    def password_of(self, proxy: Proxy) -> str | None:
        if proxy.password is None:
            return None
        return self._sealer.decrypt_str(proxy.password, record=proxy_record(proxy.id), field=PASSWORD_FIELD)

    async def check(self, proxy: Proxy, *, actor: Principal | None = None) -> tuple[HealthUpdate, Proxy] | None:
        """Check the proxy now and record the outcome; None if the proxy was deleted meanwhile."""
        checked = await self._check(proxy, actor)
        return None if checked is None else (checked[0], checked[1].proxy)

    async def _check(self, proxy: Proxy, actor: Principal | None) -> tuple[HealthUpdate, HealthRecord] | None:
        outcome = await self._checker.check(proxy, self.password_of(proxy))
        record = await self._ctx.store.proxies.record_health(proxy.organization_id, proxy.id, outcome, self.rules)
        if record is None:
            return None
        if record.failed_now or record.recovered:
            await self._changed(record, outcome, actor)
        return outcome, record

    async def _changed(self, record: HealthRecord, outcome: HealthUpdate, actor: Principal | None) -> None:
        proxy = record.proxy
        change = HealthChange(
            organization_id=proxy.organization_id, proxy_id=proxy.id, proxy_name=proxy.name,
            failed=record.failed_now, account_ids=list(proxy.assigned_account_ids), checked_at=outcome.checked_at,
            error=outcome.error,
        )  # fmt: skip
        await audit.record_now(
            self._ctx.uows,
            organization_id=proxy.organization_id,
            action="proxy.health_failed" if change.failed else "proxy.health_recovered",
            actor=actor,
            actor_type=None if actor else ActorType.SYSTEM,
            actor_id=None if actor else SCHEDULE_ACTOR,
            target_type="proxy",
            target_id=proxy.id,
            details={
                "accountIds": change.account_ids,
                "checkedAt": outcome.checked_at.isoformat(),
                "consecutiveFailures": consecutive_failures(proxy.recent_checks),
                "error": outcome.error,
            },
        )
        log.warning(
            "proxy %s %s; accounts %s", proxy.id, "failed its health checks" if change.failed else "recovered",
            change.account_ids,
        )  # fmt: skip
        if self._on_change is None:
            return
        try:
            await self._on_change(change)
        except Exception as exc:
            # The health record and the audit entry stand; whatever the hook drives must also check the proxy itself.
            log.warning("proxy health hook failed for proxy %s: %s", proxy.id, type(exc).__name__)

    async def check_batch(
        self, after: HealthCursor | None, *, limit: int, concurrency: int, since: datetime
    ) -> HealthBatch:
        """Check up to `limit` proxies of every organization, in (organization, creation) order from `after`, at most
        `concurrency` at a time. Proxies checked at or after `since` are skipped, so a retried batch counts each
        proxy once per run."""
        proxies, cursor = await self._collect(after, limit)
        batch = HealthBatch(next=cursor)
        gate = asyncio.Semaphore(concurrency)

        async def one(proxy: Proxy) -> None:
            if proxy.last_health_check is not None and proxy.last_health_check >= since:
                batch.skipped += 1
                return
            async with gate:
                try:
                    checked = await self._check(proxy, None)
                except Exception as exc:
                    log.warning("proxy %s could not be checked: %s", proxy.id, type(exc).__name__)
                    batch.errors.append(proxy.id)
                    return
            if checked is not None:
                _count(batch, checked[1])

        await asyncio.gather(*(one(p) for p in proxies))
        return batch

    async def _collect(self, after: HealthCursor | None, limit: int) -> tuple[list[Proxy], HealthCursor | None]:
        proxies: list[Proxy] = []
        if after is not None and after.proxies_after is not None:
            # Finish the organization the previous batch stopped in.
            stopped = await self._fill(after.organization_id, after.proxies_after, proxies, limit)
            if stopped is not None:
                return proxies, stopped
        org_after = after.organization_id if after is not None else None
        while True:
            async with self._ctx.uows.reading() as uow:
                organizations = await uow.organizations.list_ids(org_after, _ORGANIZATIONS_PER_QUERY)
            for organization_id in organizations:
                stopped = await self._fill(organization_id, None, proxies, limit)
                if stopped is not None:
                    return proxies, stopped
            if len(organizations) < _ORGANIZATIONS_PER_QUERY:
                return proxies, None
            org_after = organizations[-1]

    async def _fill(
        self, organization_id: str, page_after: str | None, proxies: list[Proxy], limit: int
    ) -> HealthCursor | None:
        """Add the organization's proxies (after the page cursor) up to `limit`; where to go on once it is reached."""
        while True:
            request = PageRequest(limit=limit - len(proxies), after=Cursor.decode(page_after) if page_after else None)
            page = await self._ctx.store.proxies.find(organization_id, ProxyFilter(), request)
            proxies.extend(page.items)
            if len(proxies) >= limit:
                return HealthCursor(organization_id=organization_id, proxies_after=page.next_cursor)
            if page.next_cursor is None:
                return None
            page_after = page.next_cursor


def _count(batch: HealthBatch, record: HealthRecord) -> None:
    batch.checked += 1
    status = record.proxy.health_status
    if status is HealthStatus.HEALTHY:
        batch.healthy += 1
    elif status is HealthStatus.DEGRADED:
        batch.degraded += 1
    elif status is HealthStatus.FAILED:
        batch.failed += 1
    if record.failed_now:
        batch.newly_failed.append(record.proxy.id)
    elif record.recovered:
        batch.recovered.append(record.proxy.id)
