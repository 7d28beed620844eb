"""Accounts in Firestore: each write moves the soul and proxy back-references and the handle's uniqueness document
in the same transaction.

The emulator the tests use does not isolate transactions and keeps the writes made before a failing one. So every
guarantee rests on `create` (which fails when the document exists, there too): creates come before any other write,
carry the attempt's tag, and a failed attempt withdraws what it created (on Firestore itself the commit is atomic and
there is nothing to withdraw)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from google.api_core.exceptions import Conflict as WriteConflict
from google.cloud.firestore import (
    ArrayRemove,
    ArrayUnion,
    AsyncDocumentReference,
    AsyncTransaction,
    async_transactional,
)
from google.cloud.firestore_v1.base_query import FieldFilter
from pydantic.alias_generators import to_camel

from adapters.firestore.common import Layout, check_version, from_doc, keyset_page, to_doc
from adapters.firestore.souls import ACCOUNTS, HANDLES, LINK_VERSION, LINKS, PROXIES, SOULS, link_claim_id
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


def _handle_id(account: Account) -> str:
    return f"{account.platform.value}:{account.handle}"


def _conflict_for(account: Account) -> Exception:
    if account.integration_id:
        return IntegrationLinked(account.integration_id)
    return DuplicateHandle(account.platform.value, account.handle)


class FirestoreAccountRepository:
    def __init__(self, layout: Layout) -> None:
        self._l = layout

    async def _check_refs(self, tx: AsyncTransaction, account: Account, previous: Account | None) -> Account:
        """The account as it may be written: its references exist, and `proxy_failed` says whether its proxy is
        failed (kept from the stored account while the proxy stays the same: the proxy's health check updates it)."""
        org = account.organization_id
        if (previous is None or previous.soul_id != account.soul_id) and not (
            await self._l.doc(org, SOULS, account.soul_id).get(transaction=tx)
        ).exists:
            raise ReferenceNotFound("soulId", "Soul", account.soul_id)
        proxy_failed = False
        if account.proxy_id and previous is not None and previous.proxy_id == account.proxy_id:
            proxy_failed = previous.proxy_failed
        elif account.proxy_id:
            proxy = await self._l.doc(org, PROXIES, account.proxy_id).get(transaction=tx)
            if not proxy.exists:
                raise ReferenceNotFound("proxyId", "Proxy", account.proxy_id)
            proxy_failed = (proxy.to_dict() or {}).get("healthStatus") == HealthStatus.FAILED.value
        handle_changed = previous is None or _handle_id(previous) != _handle_id(account)
        if handle_changed and (await self._l.doc(org, HANDLES, _handle_id(account)).get(transaction=tx)).exists:
            raise DuplicateHandle(account.platform.value, account.handle)
        return account.model_copy(update={"proxy_failed": proxy_failed})

    def _link(self, tx: AsyncTransaction, account: Account) -> None:
        org = account.organization_id
        tx.update(self._l.doc(org, SOULS, account.soul_id), {"accountIds": ArrayUnion([account.id])})
        if account.proxy_id:
            tx.update(self._l.doc(org, PROXIES, account.proxy_id), {"assignedAccountIds": ArrayUnion([account.id])})

    def _unlink(self, tx: AsyncTransaction, account: Account) -> None:
        org = account.organization_id
        tx.update(self._l.doc(org, SOULS, account.soul_id), {"accountIds": ArrayRemove([account.id])})
        if account.proxy_id:
            tx.update(self._l.doc(org, PROXIES, account.proxy_id), {"assignedAccountIds": ArrayRemove([account.id])})

    async def add(self, account: Account) -> Account:
        @async_transactional
        async def run(tx: AsyncTransaction) -> Account:
            stored = await self._check_refs(tx, account, None)
            org = account.organization_id
            # `create` fails if the handle document exists, even when a concurrent writer got past the read above.
            tx.create(self._l.doc(org, HANDLES, _handle_id(account)), {"accountId": account.id})
            tx.create(self._l.doc(org, ACCOUNTS, account.id), to_doc(stored))
            self._link(tx, account)
            return stored

        try:
            result: Account = await run(self._l.client.transaction())
        except WriteConflict as exc:
            raise DuplicateHandle(account.platform.value, account.handle) from exc
        return result

    async def get(self, organization_id: str, account_id: str) -> Account | None:
        snap = await self._l.doc(organization_id, ACCOUNTS, account_id).get()
        return from_doc(Account, snap.to_dict() or {}) if snap.exists else None

    async def linked_to(self, organization_id: str, integration_id: str) -> Account | None:
        query = self._l.collection(organization_id, ACCOUNTS).where(
            filter=FieldFilter("integrationId", "==", integration_id)
        )
        async for snap in query.limit(1).stream():
            return from_doc(Account, snap.to_dict() or {})
        return None

    async def find(self, organization_id: str, filters: AccountFilter, page: PageRequest) -> Page[Account]:
        query: Any = self._l.collection(organization_id, ACCOUNTS)
        if filters.soul_id:
            query = query.where(filter=FieldFilter("soulId", "==", filters.soul_id))
        if filters.handle:
            query = query.where(filter=FieldFilter("handle", "==", filters.handle))
        if filters.integration_id:
            query = query.where(filter=FieldFilter("integrationId", "==", filters.integration_id))
        if filters.platform:
            query = query.where(filter=FieldFilter("platform", "==", filters.platform.value))
        if filters.status:
            query = query.where(filter=FieldFilter("status", "==", filters.status.value))
        docs, cursor = await keyset_page(query, page)
        return Page(items=[from_doc(Account, d) for d in docs], next_cursor=cursor)

    async def _free_link(self, tx: AsyncTransaction, organization_id: str, integration_id: str) -> None:
        """One account per integration: IntegrationLinked when its link document exists."""
        link = await self._l.doc(organization_id, LINKS, integration_id).get(transaction=tx)
        if link.exists:
            raise IntegrationLinked(integration_id, (link.to_dict() or {}).get("accountId"))

    def _change_link(
        self,
        tx: AsyncTransaction,
        account_id: str,
        organization_id: str,
        data: dict[str, Any],
        integration_id: str | None,
        attempt: str,
    ) -> int:
        """The creates of a link change: the claim of the account's next link number, then the integration's link
        document. The number's previous claim and link document go in `_release_link`, after every create."""
        version = int(data.get(LINK_VERSION) or 0) + 1
        tag = {"accountId": account_id, "attempt": attempt}
        tx.create(self._l.doc(organization_id, LINKS, link_claim_id(account_id, version)), tag)
        if integration_id:
            tx.create(self._l.doc(organization_id, LINKS, integration_id), tag)
        return version

    def _release_link(self, tx: AsyncTransaction, account_id: str, organization_id: str, data: dict[str, Any]) -> None:
        if data.get(LINK_VERSION):
            tx.delete(self._l.doc(organization_id, LINKS, link_claim_id(account_id, int(data[LINK_VERSION]))))
        if data.get("integrationId"):
            tx.delete(self._l.doc(organization_id, LINKS, data["integrationId"]))

    async def _withdraw(self, organization_id: str, attempt: str) -> None:
        """Remove what a failed attempt created (only the emulator keeps any of it)."""
        for kind in (LINKS, HANDLES):
            query = self._l.collection(organization_id, kind).where(filter=FieldFilter("attempt", "==", attempt))
            refs: list[AsyncDocumentReference] = [snap.reference async for snap in query.stream()]
            for ref in refs:
                await ref.delete()

    async def update(self, account: Account, *, expected_updated_at: datetime | None = None) -> Account:
        attempt = uuid4().hex

        @async_transactional
        async def run(tx: AsyncTransaction) -> Account:
            org = account.organization_id
            ref = self._l.doc(org, ACCOUNTS, account.id)
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                raise NotFound("Account", account.id)
            data = snap.to_dict() or {}
            check_version(snap, "Account", expected_updated_at)
            previous = from_doc(Account, data)
            stored = await self._check_refs(tx, account, previous)
            link_changed = previous.integration_id != account.integration_id
            if link_changed and account.integration_id:
                await self._free_link(tx, org, account.integration_id)
            doc = to_doc(stored)
            doc[LINK_VERSION] = data.get(LINK_VERSION) or 0
            # Creates first (see the module's docstring).
            if link_changed:
                doc[LINK_VERSION] = self._change_link(tx, account.id, org, data, account.integration_id, attempt)
            if _handle_id(previous) != _handle_id(account):
                tx.create(self._l.doc(org, HANDLES, _handle_id(account)), {"accountId": account.id, "attempt": attempt})
                tx.delete(self._l.doc(org, HANDLES, _handle_id(previous)))
            if link_changed:
                self._release_link(tx, account.id, org, data)
            if previous.soul_id != account.soul_id:
                tx.update(self._l.doc(org, SOULS, previous.soul_id), {"accountIds": ArrayRemove([account.id])})
                tx.update(self._l.doc(org, SOULS, account.soul_id), {"accountIds": ArrayUnion([account.id])})
            if previous.proxy_id != account.proxy_id:
                if previous.proxy_id:
                    tx.update(
                        self._l.doc(org, PROXIES, previous.proxy_id), {"assignedAccountIds": ArrayRemove([account.id])}
                    )
                if account.proxy_id:
                    tx.update(
                        self._l.doc(org, PROXIES, account.proxy_id), {"assignedAccountIds": ArrayUnion([account.id])}
                    )
            tx.set(ref, doc)
            return stored

        try:
            result: Account = await run(self._l.client.transaction())
        except WriteConflict as exc:  # a concurrent writer took the handle or the integration after our read
            await self._withdraw(account.organization_id, attempt)
            raise _conflict_for(account) from exc
        return result

    async def set_integration(
        self,
        organization_id: str,
        account_id: str,
        integration_id: str | None,
        *,
        expected: str | None,
        updated_at: datetime,
    ) -> Account:
        attempt = uuid4().hex
        ref = self._l.doc(organization_id, ACCOUNTS, account_id)

        @async_transactional
        async def run(tx: AsyncTransaction) -> Account:
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                raise NotFound("Account", account_id)
            data = snap.to_dict() or {}
            current = from_doc(Account, data)
            if current.integration_id == integration_id:  # already as asked
                return current
            if current.integration_id != expected:
                raise LinkChanged(account_id)
            if integration_id:
                await self._free_link(tx, organization_id, integration_id)
            version = self._change_link(tx, account_id, organization_id, data, integration_id, attempt)
            self._release_link(tx, account_id, organization_id, data)
            tx.update(ref, {"integrationId": integration_id, "updatedAt": updated_at, LINK_VERSION: version})
            return current.model_copy(update={"integration_id": integration_id, "updated_at": updated_at})

        try:
            result: Account = await run(self._l.client.transaction())
        except WriteConflict as exc:
            await self._withdraw(organization_id, attempt)
            now = await self.get(organization_id, account_id)
            if now is not None and now.integration_id == integration_id:  # a concurrent change made it so
                return now
            holder = None
            if integration_id:
                link = await self._l.doc(organization_id, LINKS, integration_id).get()
                holder = (link.to_dict() or {}).get("accountId") if link.exists else None
            if integration_id and holder not in (None, account_id):
                raise IntegrationLinked(integration_id, holder) from exc
            raise LinkChanged(account_id) from exc  # another change of this account's link came first
        return result

    async def record_warning(
        self, organization_id: str, account_id: str, *, cooldown_until: datetime, reason: str, updated_at: datetime
    ) -> Account | None:
        ref = self._l.doc(organization_id, ACCOUNTS, account_id)

        @async_transactional
        async def run(tx: AsyncTransaction) -> Account | None:
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                return None
            current = from_doc(Account, snap.to_dict() or {})
            until: datetime = cooldown_until
            why: str | None = reason
            # A longer cooldown already running stays (with its reason).
            if current.cooldown_until is not None and current.cooldown_until >= cooldown_until:
                until, why = current.cooldown_until, current.cooldown_reason
            flagged = current.model_copy(
                update={
                    "warning_count": current.warning_count + 1,
                    "cooldown_until": until,
                    "cooldown_reason": why,
                    "updated_at": updated_at,
                }
            )
            fields = ("warningCount", "cooldownUntil", "cooldownReason", "updatedAt")
            tx.update(ref, {k: v for k, v in to_doc(flagged).items() if k in fields})
            return flagged

        result: Account | None = await run(self._l.client.transaction())
        return result

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
        ref = self._l.doc(organization_id, ACCOUNTS, account_id)

        @async_transactional
        async def run(tx: AsyncTransaction) -> Account | None:
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                return None
            current = from_doc(Account, snap.to_dict() or {})
            metrics = {**current.metrics, "warming": change(dict(current.metrics.get("warming") or {}))}
            values: dict[str, Any] = {"metrics": metrics, "updated_at": updated_at}
            if last_activity_at is not None:
                values["last_activity_at"] = last_activity_at
            if status is not None:
                values["status"] = status
            changed = current.model_copy(update=values)
            fields = {to_camel(name) for name in values}
            tx.update(ref, {k: v for k, v in to_doc(changed).items() if k in fields})
            return changed

        result: Account | None = await run(self._l.client.transaction())
        return result

    async def delete(self, organization_id: str, account_id: str) -> None:
        @async_transactional
        async def run(tx: AsyncTransaction) -> None:
            ref = self._l.doc(organization_id, ACCOUNTS, account_id)
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                raise NotFound("Account", account_id)
            account = from_doc(Account, snap.to_dict() or {})
            tx.delete(ref)
            tx.delete(self._l.doc(organization_id, HANDLES, _handle_id(account)))
            self._release_link(tx, account_id, organization_id, snap.to_dict() or {})
            self._unlink(tx, account)

        await run(self._l.client.transaction())
