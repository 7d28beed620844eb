"""Choosing the document store (DOCUMENT_STORE=sql|firestore) for the composition roots."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.identity.store import SqlDocumentStore
from domain.identity.ports import DocumentStore
from settings import Settings


async def build_document_store(settings: Settings, engine: AsyncEngine) -> DocumentStore:
    if settings.document_store == "firestore":
        from adapters.firestore.store import FirestoreDocumentStore

        return FirestoreDocumentStore.connect(settings.firestore_project, settings.firestore_emulator_host)
    return SqlDocumentStore(engine)
