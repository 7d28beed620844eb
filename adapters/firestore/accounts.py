"""Accounts in Firestore: each write moves the soul and proxy back-references and the handle's uniqueness document
in the same transaction."""

from __future__ import annotations

from typing import Any

from google.api_core.exceptions import Conflict as WriteConflict
from google.cloud.firestore import ArrayRemove, ArrayUnion, AsyncTransaction, async_transactional
from google.cloud.firestore_v1.base_query import FieldFilter

from adapters.firestore.common import Layout, from_doc, keyset_page, to_doc
from adapters.firestore.souls import ACCOUNTS, HANDLES, LINKS, PROXIES, SOULS
from domain.errors import NotFound
from domain.identity.accounts import Account, AccountFilter
from domain.identity.ports import DuplicateHandle, IntegrationLinked, ReferenceNotFound
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

    async def _check_refs(self, tx: AsyncTransaction, account: Account, previous: Account | None) -> None:
        org = account.organization_id
        if (previous is None or previous.soul_id != account.soul_id) and not (
            await self._l.doc(org, SOULS, account.soul_id).get(transaction=tx)
        ).exists:
            raise ReferenceNotFound("soulId", "Soul", account.soul_id)
        if (
            account.proxy_id
            and (previous is None or previous.proxy_id != account.proxy_id)
            and not (await self._l.doc(org, PROXIES, account.proxy_id).get(transaction=tx)).exists
        ):
            raise ReferenceNotFound("proxyId", "Proxy", account.proxy_id)
        handle_changed = previous is None or _handle_id(previous) != _handle_id(account)
        if handle_changed and (await self._l.doc(org, HANDLES, _handle_id(account)).get(transaction=tx)).exists:
            raise DuplicateHandle(account.platform.value, account.handle)

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

    async def add(self, account: Account) -> None:
        @async_transactional
        async def run(tx: AsyncTransaction) -> None:
            await self._check_refs(tx, account, None)
            org = account.organization_id
            # `create` fails if the handle document exists, even when a concurrent writer got past the read above.
            tx.create(self._l.doc(org, HANDLES, _handle_id(account)), {"accountId": account.id})
            tx.create(self._l.doc(org, ACCOUNTS, account.id), to_doc(account))
            self._link(tx, account)

        try:
            await run(self._l.client.transaction())
        except WriteConflict as exc:
            raise DuplicateHandle(account.platform.value, account.handle) from exc

    async def get(self, organization_id: str, account_id: str) -> Account | None:
        snap = await self._l.doc(organization_id, ACCOUNTS, account_id).get()
        return from_doc(Account, snap.to_dict() or {}) if snap.exists else None

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

    async def update(self, account: Account) -> Account:
        @async_transactional
        async def run(tx: AsyncTransaction) -> None:
            org = account.organization_id
            ref = self._l.doc(org, ACCOUNTS, account.id)
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                raise NotFound("Account", account.id)
            previous = from_doc(Account, snap.to_dict() or {})
            await self._check_refs(tx, account, previous)
            # The emulator applies the writes before a failing one, so the create that can fail goes first.
            if _handle_id(previous) != _handle_id(account):
                tx.create(self._l.doc(org, HANDLES, _handle_id(account)), {"accountId": account.id})
                tx.delete(self._l.doc(org, HANDLES, _handle_id(previous)))
            if previous.integration_id != account.integration_id:
                # One account per integration: a link document per integration, created (or failing) first.
                if account.integration_id:
                    link = await self._l.doc(org, LINKS, account.integration_id).get(transaction=tx)
                    if link.exists:
                        raise IntegrationLinked(account.integration_id, (link.to_dict() or {}).get("accountId"))
                    tx.create(self._l.doc(org, LINKS, account.integration_id), {"accountId": account.id})
                if previous.integration_id:
                    tx.delete(self._l.doc(org, LINKS, previous.integration_id))
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
            tx.set(ref, to_doc(account))

        try:
            await run(self._l.client.transaction())
        except WriteConflict as exc:  # a concurrent writer took the handle or the integration after our read
            raise _conflict_for(account) from exc
        return account

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
            if account.integration_id:
                tx.delete(self._l.doc(organization_id, LINKS, account.integration_id))
            self._unlink(tx, account)

        await run(self._l.client.transaction())
