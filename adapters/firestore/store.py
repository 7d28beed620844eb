from __future__ import annotations

from google.cloud.firestore import AsyncClient

from adapters.firestore.accounts import FirestoreAccountRepository
from adapters.firestore.common import Layout, connect
from adapters.firestore.proxies import FirestoreProxyRepository
from adapters.firestore.souls import FirestorePersonaRepository, FirestoreSoulRepository


class FirestoreDocumentStore:
    """The document side on Firestore (production) or its emulator (tests)."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        layout = Layout(client)
        self.souls = FirestoreSoulRepository(layout)
        self.personas = FirestorePersonaRepository(layout)
        self.accounts = FirestoreAccountRepository(layout)
        self.proxies = FirestoreProxyRepository(layout)

    @classmethod
    def connect(cls, project: str, emulator_host: str = "") -> FirestoreDocumentStore:
        return cls(connect(project, emulator_host))

    async def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
