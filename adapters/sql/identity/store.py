from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.identity.accounts import SqlAccountRepository
from adapters.sql.identity.personas import SqlPersonaRepository
from adapters.sql.identity.proxies import SqlProxyRepository
from adapters.sql.identity.souls import SqlSoulRepository


class SqlDocumentStore:
    """The document side on the relational store (the embedded default, and PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.souls = SqlSoulRepository(engine)
        self.personas = SqlPersonaRepository(engine)
        self.accounts = SqlAccountRepository(engine)
        self.proxies = SqlProxyRepository(engine)

    async def close(self) -> None:
        """The engine belongs to the caller."""
