"""Turning a bearer token or an API key into the Principal of a request.

Resolved principals are cached in-process for a few seconds (AUTH_CACHE_TTL_S), so an authenticated read costs no
extra database round trip. Whatever ends access (logout, refresh-token reuse, a user deactivated, demoted or deleted,
an API key deleted, the organization's deletion started) clears this process's cache at once; other API processes
follow within the TTL. A request of an organization being deleted, or deleted, answers 410 Gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from domain.auth import NEVER, ActorType, Principal
from domain.cache import TtlCache
from domain.clock import Clock
from domain.errors import Gone, Unauthorized
from domain.ports import UnitOfWork, UnitOfWorkFactory
from domain.services.api_keys import ApiKeyService
from domain.tokens import TokenIssuer, digest


async def _ensure_not_deleted(uow: UnitOfWork, organization_id: str) -> None:
    """An organization being deleted (or deleted: its tokens are still signed by us) answers 410 to everyone."""
    organization = await uow.organizations.get(organization_id)
    if organization is None or organization.deletion_started_at is not None:
        raise Gone("This organization has been deleted.", code="organization_deleted")


@dataclass(frozen=True, slots=True)
class CachedPrincipal:
    principal: Principal
    expires_at: datetime


class PrincipalResolver:
    def __init__(
        self,
        *,
        uows: UnitOfWorkFactory,
        tokens: TokenIssuer,
        api_keys: ApiKeyService,
        clock: Clock,
        cache: TtlCache[str, CachedPrincipal],
    ) -> None:
        self._uows = uows
        self._tokens = tokens
        self._api_keys = api_keys
        self._clock = clock
        self._cache = cache
        self._in_flight: dict[tuple[str, int], asyncio.Future[CachedPrincipal]] = {}

    async def from_bearer(self, token: str) -> Principal:
        key = "b:" + digest(token)
        # A cached entry means this exact token was verified; only its expiry can have changed since.
        if (cached := self._cache.get(key)) is not None and cached.expires_at > self._clock.now():
            return cached.principal
        return await self._resolve_once(key, lambda: self._resolve_bearer(token))

    async def _resolve_once(self, key: str, resolve: Callable[[], Awaitable[CachedPrincipal]]) -> Principal:
        """One resolution per key at a time, shared by every request that misses meanwhile, then cached.

        A client's requests arrive together; when its cached principal expires, they would all miss at once and each
        query the database (16 at once per process in the read benchmark, its p99 on PostgreSQL). The resolution
        runs as its own task, so a request that gives up does not cancel it for the others. After a cache clear
        (access ended), requests start a fresh resolution, and one begun before the clear is not cached."""
        generation = self._cache.generation
        flight = self._in_flight.get((key, generation))
        if flight is None or flight.get_loop() is not asyncio.get_running_loop():
            flight = asyncio.ensure_future(resolve())
            self._in_flight[(key, generation)] = flight
            flight.add_done_callback(lambda done: self._landed(key, generation, done))
        return (await asyncio.shield(flight)).principal

    def _landed(self, key: str, generation: int, flight: asyncio.Future[CachedPrincipal]) -> None:
        if self._in_flight.get((key, generation)) is flight:
            del self._in_flight[(key, generation)]
        if flight.cancelled() or flight.exception() is not None:  # retrieved here, whoever else still awaits it
            return
        if self._cache.generation == generation:
            self._cache.put(key, flight.result())

    async def _resolve_bearer(self, token: str) -> CachedPrincipal:
        claims = self._tokens.verify_access(token)
        # A transaction only on a miss, and a reading one: a hit costs no database work at all.
        async with self._uows.reading() as uow:
            await _ensure_not_deleted(uow, claims.organization_id)
            user = await uow.users.get(claims.organization_id, claims.user_id)
            if user is None or not user.is_active:
                raise Unauthorized("The access token is no longer valid.", code="token_invalid")
            # Logging out (or a detected refresh-token reuse) revokes the session: its access tokens stop working.
            if not await uow.refresh_tokens.is_family_active(claims.session_id, self._clock.now()):
                raise Unauthorized("The session has ended.", code="session_revoked")
        principal = Principal(
            actor_type=ActorType.USER,
            actor_id=user.id,
            organization_id=user.organization_id,
            role=user.role,  # the current role, not the one at sign-in
            session_id=claims.session_id,
        )
        return CachedPrincipal(principal, claims.expires_at)

    async def from_api_key(self, raw: str) -> Principal:
        key = "k:" + digest(raw)
        if (cached := self._cache.get(key)) is not None:
            return cached.principal
        return await self._resolve_once(key, lambda: self._resolve_api_key(raw))

    async def _resolve_api_key(self, raw: str) -> CachedPrincipal:
        async with self._uows() as uow:  # it may record the key's last use
            principal = await self._api_keys.authenticate(uow, raw)
            await _ensure_not_deleted(uow, principal.organization_id)
        return CachedPrincipal(principal, NEVER)
