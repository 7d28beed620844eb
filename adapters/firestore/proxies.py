"""Proxies in Firestore."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from google.cloud.firestore import AsyncTransaction, async_transactional
from google.cloud.firestore_v1.base_query import FieldFilter

from adapters.firestore.common import Layout, check_version, from_doc, keyset_page, to_doc
from adapters.firestore.souls import ACCOUNTS, PROXIES, SOULS
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
_HEALTH = {"last_health_check", "health_status", "response_time_ms", "uptime_percentage", "recent_checks",
           "last_error", "exit_ip"}  # fmt: skip


class FirestoreProxyRepository:
    def __init__(self, layout: Layout) -> None:
        self._l = layout

    async def add(self, proxy: Proxy) -> None:
        doc = to_doc(proxy.model_copy(update={"assigned_account_ids": []}))
        await self._l.doc(proxy.organization_id, PROXIES, proxy.id).create(doc)

    async def get(self, organization_id: str, proxy_id: str) -> Proxy | None:
        snap = await self._l.doc(organization_id, PROXIES, proxy_id).get()
        return from_doc(Proxy, snap.to_dict() or {}) if snap.exists else None

    async def find(self, organization_id: str, filters: ProxyFilter, page: PageRequest) -> Page[Proxy]:
        query: Any = self._l.collection(organization_id, PROXIES)
        if filters.status:
            query = query.where(filter=FieldFilter("status", "==", filters.status.value))
        if filters.health_status:
            query = query.where(filter=FieldFilter("healthStatus", "==", filters.health_status.value))
        docs, cursor = await keyset_page(query, page)
        return Page(items=[from_doc(Proxy, d) for d in docs], next_cursor=cursor)

    async def update(self, proxy: Proxy, *, expected_updated_at: datetime | None = None) -> Proxy:
        @async_transactional
        async def run(tx: AsyncTransaction) -> Proxy:
            ref = self._l.doc(proxy.organization_id, PROXIES, proxy.id)
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                raise NotFound("Proxy", proxy.id)
            check_version(snap, "Proxy", expected_updated_at)
            tx.update(ref, to_doc(proxy, exclude={"assigned_account_ids", "created_at", *_HEALTH}))
            current = from_doc(Proxy, snap.to_dict() or {})
            return proxy.model_copy(update={
                "assigned_account_ids": current.assigned_account_ids,
                **{name: getattr(current, name) for name in _HEALTH},
            })  # fmt: skip

        result: Proxy = await run(self._l.client.transaction())
        return result

    async def record_health(
        self, organization_id: str, proxy_id: str, update: HealthUpdate, rules: HealthRules
    ) -> HealthRecord | None:
        @async_transactional
        async def run(tx: AsyncTransaction) -> HealthRecord | None:
            ref = self._l.doc(organization_id, PROXIES, proxy_id)
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                return None
            before = from_doc(Proxy, snap.to_dict() or {})
            checked = apply_health(before, update, rules)
            failed = checked.health_status is HealthStatus.FAILED
            # Read before any write (Firestore's rule for transactions); every check, not only a change, sets the
            # flag, so the accounts can never stay out of step with their proxy.
            refs = [self._l.doc(organization_id, ACCOUNTS, a) for a in before.assigned_account_ids]
            # One read each: AsyncTransaction.get_all awaits an async generator (google-cloud-firestore 2.x).
            accounts = await asyncio.gather(*(r.get(transaction=tx) for r in refs))
            tx.update(ref, to_doc(checked, exclude=set(Proxy.model_fields) - _HEALTH))
            for account in accounts:
                if account.exists and (account.to_dict() or {}).get("proxyFailed", False) != failed:
                    tx.update(account.reference, {"proxyFailed": failed})
            return HealthRecord(proxy=checked, previous=before.health_status)

        result: HealthRecord | None = await run(self._l.client.transaction())
        return result

    async def delete(self, organization_id: str, proxy_id: str, *, unassign: bool) -> list[str]:
        @async_transactional
        async def run(tx: AsyncTransaction) -> list[str]:
            ref = self._l.doc(organization_id, PROXIES, proxy_id)
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                raise NotFound("Proxy", proxy_id)
            accounts: list[str] = (snap.to_dict() or {}).get("assignedAccountIds", [])
            query = self._l.collection(organization_id, SOULS).where(filter=FieldFilter("proxyId", "==", proxy_id))
            souls = sorted([s.id async for s in await tx.get(query)])
            if (accounts or souls) and not unassign:
                raise InUse(
                    f"The proxy is assigned to {len(accounts)} account(s) and is the default of {len(souls)} soul(s); "
                    "unassign it first or pass unassign=true.",
                    code="proxy_in_use",
                    accountIds=accounts,
                    soulIds=souls,
                )
            for account_id in accounts:
                tx.update(self._l.doc(organization_id, ACCOUNTS, account_id), {"proxyId": None, "proxyFailed": False})
            for soul_id in souls:
                tx.update(self._l.doc(organization_id, SOULS, soul_id), {"proxyId": None})
            tx.delete(ref)
            return accounts

        result: list[str] = await run(self._l.client.transaction())
        return result
