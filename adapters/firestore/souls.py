"""Souls and Personas in Firestore."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.cloud.firestore import ArrayRemove, AsyncTransaction, async_transactional
from google.cloud.firestore_v1.base_query import FieldFilter

from adapters.firestore.common import Layout, check_version, from_doc, keyset_page, to_doc
from domain.errors import NotFound
from domain.identity.personas import Persona
from domain.identity.ports import InUse, ReferenceNotFound
from domain.identity.souls import Soul, SoulFilter, search_terms
from domain.pagination import Page, PageRequest

SOULS, PERSONAS, PROXIES, ACCOUNTS = "souls", "personas", "proxies", "accounts"
# Uniqueness documents: one per (platform, handle), and one per linked integration.
HANDLES, LINKS = "accountHandles", "integrationLinks"
# An account's link changes are numbered (`linkVersion` on the account); the claim of the latest number is kept among
# the link documents, so two changes made from the same link collide on creating the next one.
LINK_VERSION = "linkVersion"


def link_claim_id(account_id: str, version: int) -> str:
    return f"{account_id}@{version}"


def soul_doc(soul: Soul) -> dict[str, Any]:
    doc = to_doc(soul)
    doc["searchTerms"] = search_terms(soul.name)
    return doc


async def _check_soul_refs(layout: Layout, tx: AsyncTransaction, soul: Soul) -> None:
    if soul.persona_id and not (await layout.doc(soul.organization_id, PERSONAS, soul.persona_id).get(
        transaction=tx)).exists:  # fmt: skip
        raise ReferenceNotFound("personaId", "Persona", soul.persona_id)
    if (
        soul.proxy_id
        and not (await layout.doc(soul.organization_id, PROXIES, soul.proxy_id).get(transaction=tx)).exists
    ):
        raise ReferenceNotFound("proxyId", "Proxy", soul.proxy_id)


class FirestoreSoulRepository:
    def __init__(self, layout: Layout) -> None:
        self._l = layout

    async def add(self, soul: Soul) -> None:
        @async_transactional
        async def run(tx: AsyncTransaction) -> None:
            await _check_soul_refs(self._l, tx, soul)
            tx.create(
                self._l.doc(soul.organization_id, SOULS, soul.id), soul_doc(soul.model_copy(update={"account_ids": []}))
            )

        await run(self._l.client.transaction())

    async def get(self, organization_id: str, soul_id: str) -> Soul | None:
        snap = await self._l.doc(organization_id, SOULS, soul_id).get()
        return from_doc(Soul, snap.to_dict() or {}) if snap.exists else None

    async def find(self, organization_id: str, filters: SoulFilter, page: PageRequest) -> Page[Soul]:
        query: Any = self._l.collection(organization_id, SOULS)
        if filters.status:
            query = query.where(filter=FieldFilter("status", "==", filters.status.value))
        if filters.search:
            term = " ".join(filters.search.lower().split())
            query = query.where(filter=FieldFilter("searchTerms", "array_contains", term))
        docs, cursor = await keyset_page(query, page)
        return Page(items=[from_doc(Soul, d) for d in docs], next_cursor=cursor)

    async def update(self, soul: Soul, *, expected_updated_at: datetime | None = None) -> Soul:
        @async_transactional
        async def run(tx: AsyncTransaction) -> Soul:
            ref = self._l.doc(soul.organization_id, SOULS, soul.id)
            current = await ref.get(transaction=tx)
            if not current.exists:
                raise NotFound("Soul", soul.id)
            check_version(current, "Soul", expected_updated_at)
            await _check_soul_refs(self._l, tx, soul)
            doc = soul_doc(soul)
            doc.pop("accountIds")  # maintained by the account writes only
            doc.pop("createdAt")
            tx.update(ref, doc)
            return soul.model_copy(update={"account_ids": (current.to_dict() or {}).get("accountIds", [])})

        result: Soul = await run(self._l.client.transaction())
        return result

    async def delete(self, organization_id: str, soul_id: str, *, cascade: bool) -> list[str]:
        @async_transactional
        async def run(tx: AsyncTransaction) -> list[str]:
            ref = self._l.doc(organization_id, SOULS, soul_id)
            snap = await ref.get(transaction=tx)
            if not snap.exists:
                raise NotFound("Soul", soul_id)
            account_ids: list[str] = (snap.to_dict() or {}).get("accountIds", [])
            if account_ids and not cascade:
                raise InUse(
                    f"The soul still has {len(account_ids)} account(s); delete or move them, or pass cascade=true.",
                    code="soul_has_accounts",
                    accountIds=account_ids,
                )
            accounts = [await self._l.doc(organization_id, ACCOUNTS, a).get(transaction=tx) for a in account_ids]
            for account in accounts:
                data = account.to_dict() or {}
                if not account.exists:
                    continue
                tx.delete(account.reference)
                tx.delete(self._l.doc(organization_id, HANDLES, f"{data['platform']}:{data['handle']}"))
                if data.get("integrationId"):
                    tx.delete(self._l.doc(organization_id, LINKS, data["integrationId"]))
                if data.get(LINK_VERSION):
                    tx.delete(self._l.doc(organization_id, LINKS, link_claim_id(account.id, data[LINK_VERSION])))
                if data.get("proxyId"):
                    tx.update(self._l.doc(organization_id, PROXIES, data["proxyId"]),
                              {"assignedAccountIds": ArrayRemove([account.id])})  # fmt: skip
            tx.delete(ref)
            return account_ids

        result: list[str] = await run(self._l.client.transaction())
        return result


class FirestorePersonaRepository:
    def __init__(self, layout: Layout) -> None:
        self._l = layout

    async def add(self, persona: Persona) -> None:
        await self._l.doc(persona.organization_id, PERSONAS, persona.id).create(to_doc(persona))

    async def get(self, organization_id: str, persona_id: str) -> Persona | None:
        snap = await self._l.doc(organization_id, PERSONAS, persona_id).get()
        return from_doc(Persona, snap.to_dict() or {}) if snap.exists else None

    async def find(self, organization_id: str, page: PageRequest) -> Page[Persona]:
        docs, cursor = await keyset_page(self._l.collection(organization_id, PERSONAS), page)
        return Page(items=[from_doc(Persona, d) for d in docs], next_cursor=cursor)

    async def update(self, persona: Persona, *, expected_updated_at: datetime | None = None) -> Persona:
        @async_transactional
        async def run(tx: AsyncTransaction) -> None:
            ref = self._l.doc(persona.organization_id, PERSONAS, persona.id)
            current = await ref.get(transaction=tx)
            if not current.exists:
                raise NotFound("Persona", persona.id)
            check_version(current, "Persona", expected_updated_at)
            tx.set(ref, to_doc(persona))

        await run(self._l.client.transaction())
        return persona

    async def delete(self, organization_id: str, persona_id: str, *, unassign: bool) -> list[str]:
        @async_transactional
        async def run(tx: AsyncTransaction) -> list[str]:
            ref = self._l.doc(organization_id, PERSONAS, persona_id)
            if not (await ref.get(transaction=tx)).exists:
                raise NotFound("Persona", persona_id)
            query = self._l.collection(organization_id, SOULS).where(filter=FieldFilter("personaId", "==", persona_id))
            users = sorted([snap.id async for snap in await tx.get(query)])
            if users and not unassign:
                raise InUse(f"The persona is used by {len(users)} soul(s); unassign it first or pass unassign=true.",
                            code="persona_in_use", soulIds=users)  # fmt: skip
            for soul_id in users:
                tx.update(self._l.doc(organization_id, SOULS, soul_id), {"personaId": None})
            tx.delete(ref)
            return users

        result: list[str] = await run(self._l.client.transaction())
        return result
