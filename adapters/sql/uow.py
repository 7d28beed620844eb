from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.sql.channels import (
    SqlIntegrationRepository,
    SqlMappingRepository,
    SqlOAuthStateRepository,
    SqlPlatformAppRepository,
)
from adapters.sql.engine import WRITE, WriteGate, gated, session_factory, write_gate
from adapters.sql.in_place import database_file, in_place_sessions
from adapters.sql.in_place_writes import in_place_writes
from adapters.sql.publishing import SqlDeliveryRepository, SqlPostRepository
from adapters.sql.repositories import (
    SqlApiKeyRepository,
    SqlAuditRepository,
    SqlLoginThrottle,
    SqlOrganizationRepository,
    SqlRefreshTokenRepository,
    SqlUserRepository,
)
from adapters.sql.webhooks import SqlWebhookDeliveryRepository, SqlWebhookRepository


class SqlUnitOfWork:
    """One database transaction. Leaving the block without commit() rolls back."""

    session: AsyncSession
    organizations: SqlOrganizationRepository
    users: SqlUserRepository
    refresh_tokens: SqlRefreshTokenRepository
    api_keys: SqlApiKeyRepository
    audit: SqlAuditRepository
    login_throttle: SqlLoginThrottle
    integrations: SqlIntegrationRepository
    mappings: SqlMappingRepository
    oauth_states: SqlOAuthStateRepository
    platform_apps: SqlPlatformAppRepository
    posts: SqlPostRepository
    deliveries: SqlDeliveryRepository
    webhooks: SqlWebhookRepository
    webhook_deliveries: SqlWebhookDeliveryRepository

    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        gate: WriteGate | None = None,
        in_place: Callable[[], AsyncSession | None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._gate = gated(gate)
        self._in_place = in_place

    async def __aenter__(self) -> Self:
        await self._gate.__aenter__()
        try:
            # SQLite: in place when the write lock is free at once (adapters.sql.in_place_writes), else async.
            in_place = self._in_place() if self._in_place is not None else None
        except BaseException:
            await self._gate.__aexit__(None, None, None)
            raise
        self.session = in_place if in_place is not None else self._sessions()
        self.organizations = SqlOrganizationRepository(self.session)
        self.users = SqlUserRepository(self.session)
        self.refresh_tokens = SqlRefreshTokenRepository(self.session)
        self.api_keys = SqlApiKeyRepository(self.session)
        self.audit = SqlAuditRepository(self.session)
        self.login_throttle = SqlLoginThrottle(self.session)
        self.integrations = SqlIntegrationRepository(self.session)
        self.mappings = SqlMappingRepository(self.session)
        self.oauth_states = SqlOAuthStateRepository(self.session)
        self.platform_apps = SqlPlatformAppRepository(self.session)
        self.posts = SqlPostRepository(self.session)
        self.deliveries = SqlDeliveryRepository(self.session)
        self.webhooks = SqlWebhookRepository(self.session)
        self.webhook_deliveries = SqlWebhookDeliveryRepository(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            try:
                await self.session.close()
            finally:
                await self._gate.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()


class SqlUnitOfWorkFactory:
    """`uows()` for a transaction that may write (on SQLite it takes the write lock up front, so two concurrent
    read-then-write transactions queue instead of failing with "database is locked"); `uows.reading()` for reads."""

    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        read_sessions: Callable[[], AsyncSession] | None = None,
        gate: WriteGate | None = None,
        in_place: Callable[[], AsyncSession | None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._gate = gate
        self._in_place = in_place

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqlUnitOfWorkFactory:
        # On a SQLite file, reads run in place (adapters.sql.in_place): no hand-off to aiosqlite's threads.
        path = database_file(engine)
        reads = session_factory(engine) if path is None else in_place_sessions(path)
        writes = None if path is None else in_place_writes(path)
        return cls(session_factory(engine.execution_options(**WRITE)), reads, write_gate(engine), writes)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions, self._gate, self._in_place)

    def reading(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._read_sessions)
