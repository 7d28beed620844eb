"""Key rotation for the sealed values kept in Firestore: account credentials and proxy passwords.

Organizations are listed from the relational store (Firestore's `orgs/{id}` documents exist only as parents).
Each document is re-encrypted in its own transaction, so a rerun after an interruption resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.cloud.firestore import AsyncClient, AsyncDocumentReference, AsyncTransaction, async_transactional

from adapters.crypto.fields import FieldCipher
from adapters.firestore.souls import ACCOUNTS, PROXIES


def _rotated(cipher: FieldCipher, stored: Any, record: str, field: str) -> tuple[Any, bool]:
    if stored and cipher.needs_rotation(stored):
        return cipher.reencrypt(stored, record=record, field=field), True
    return stored, False


async def _rotate_doc(client: AsyncClient, ref: AsyncDocumentReference, kind: str, cipher: FieldCipher) -> int:
    @async_transactional
    async def run(tx: AsyncTransaction) -> int:
        snap = await ref.get(transaction=tx)
        data = snap.to_dict() or {}
        record = f"{kind}/{ref.id}"
        if kind == ACCOUNTS:
            sealed = dict(data.get("credentials") or {})
            count = 0
            for name, value in sealed.items():
                sealed[name], changed = _rotated(cipher, value, record, f"credentials.{name}")
                count += changed
            if count:
                tx.update(ref, {"credentials": sealed})
            return count
        password, changed = _rotated(cipher, data.get("password"), record, "credentials.password")
        if changed:
            tx.update(ref, {"password": password})
        return int(changed)

    result: int = await run(client.transaction())
    return result


async def rotate_firestore(client: AsyncClient, organization_ids: Iterable[str], cipher: FieldCipher) -> int:
    rotated = 0
    for org in organization_ids:
        for kind in (ACCOUNTS, PROXIES):
            async for snap in client.collection("orgs", org, kind).stream():
                rotated += await _rotate_doc(client, snap.reference, kind, cipher)
    return rotated
