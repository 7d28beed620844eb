"""Token refresh activities: when is the channel's token due, and refresh it through the linked Account's proxy.

Secrets never cross into workflow history: inputs and results carry ids, times and outcomes only.

Every refresh is journaled on the integration before it is sent (when, and a fingerprint of the refresh token), and the
journal is cleared when the answer is known. An attempt that finds the journal naming the token it is about to present
knows an earlier attempt died with that request in flight: the platform may have rotated the token, and at platforms
whose refresh tokens are single-use, presenting it again would get the whole grant revoked. Those channels are marked
for reconnecting instead; platforms whose refresh tokens stay valid simply retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from collections.abc import Mapping as MappingType
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.channels.apps import connector_for
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    ConnectorError,
    InvalidRequest,
    PlatformConnector,
    ProxySpec,
    RateLimited,
    Unconfirmed,
)
from domain.channels.integrations import Integration, integration_record
from domain.clock import Clock
from domain.identity.platforms import Platform
from domain.identity.ports import DocumentStore
from domain.identity.proxies import proxy_record
from domain.ports import FieldSealer, UnitOfWorkFactory
from domain.services.refresh_needed import RefreshNeeded, RefreshNeededHook
from domain.services.webhooks import WebhookNotifier

# Platforms whose refresh token works once (PLATFORMS.md, and the sandbox's rotation rules): X (reuse revokes the whole
# grant), TikTok and Bluesky (rotated on every refresh). LinkedIn's is not rotated; Instagram, Threads and Facebook
# refresh with the long-lived token itself, which stays valid; Mastodon has none.
SINGLE_USE_REFRESH = frozenset({Platform.X, Platform.TIKTOK, Platform.BLUESKY})
UNKNOWN_OUTCOME = "refresh outcome unknown after a crash; reconnect"
# The activity heartbeats while the platform answers, so a killed worker is noticed within the heartbeat timeout.
HEARTBEAT_EVERY_S = 2.0


def refresh_fingerprint(refresh_token: str) -> str:
    """Tells two refresh tokens apart without storing either: a sha256 prefix."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


class RefreshTarget(BaseModel):
    organization_id: str
    integration_id: str


class RefreshPlan(BaseModel):
    active: bool  # False: gone, disabled, needs reconnecting, or its token never expires
    expires_at: datetime | None = None
    platform: str | None = None
    account_id: str | None = None


class RefreshOutcome(BaseModel):
    outcome: str  # refreshed | revoked | unknown (an earlier attempt's outcome; reconnect) | gone
    expires_at: datetime | None = None


class TokenRefreshActivities:
    def __init__(
        self,
        store: DocumentStore,
        uows: UnitOfWorkFactory,
        sealer: FieldSealer,
        connectors: MappingType[Platform, PlatformConnector],
        clock: Clock,
        webhooks: WebhookNotifier | None = None,
        on_refresh_needed: RefreshNeededHook | None = None,
    ) -> None:
        self._store = store
        self._uows = uows
        self._sealer = sealer
        self._connectors = connectors
        self._clock = clock
        self._refresh_needed = RefreshNeeded(uows, clock, webhooks, on_refresh_needed)

    async def _integration(self, target: RefreshTarget) -> Integration | None:
        async with self._uows.reading() as uow:
            return await uow.integrations.get(target.organization_id, target.integration_id)

    @activity.defn(name="token_refresh_plan")
    async def plan(self, target: RefreshTarget) -> RefreshPlan:
        integration = await self._integration(target)
        if integration is None or integration.disabled or integration.refresh_needed:
            return RefreshPlan(active=False)
        if integration.token_expiration is None or integration.refresh_token is None:
            return RefreshPlan(active=False, platform=integration.provider_identifier.value)
        linked = await self._store.accounts.linked_to(target.organization_id, integration.id)
        return RefreshPlan(
            active=True,
            expires_at=integration.token_expiration,
            platform=integration.provider_identifier.value,
            account_id=linked.id if linked is not None else None,
        )

    async def _proxy_for(self, organization_id: str, integration_id: str) -> ProxySpec | None:
        linked = await self._store.accounts.linked_to(organization_id, integration_id)
        if linked is None or not linked.proxy_id:
            return None  # no linked account, or it has no proxy: a direct call (per-organization policy comes later)
        proxy = await self._store.proxies.get(organization_id, linked.proxy_id)
        if proxy is None:
            return None
        password = (
            self._sealer.decrypt_str(proxy.password, record=proxy_record(proxy.id), field="credentials.password")
            if proxy.password
            else None
        )
        return ProxySpec(proxy.protocol.value, proxy.host, proxy.port, proxy.username, password)

    @activity.defn(name="token_refresh_run")
    async def refresh(self, target: RefreshTarget) -> RefreshOutcome:
        integration = await self._integration(target)
        if integration is None or integration.refresh_token is None:
            return RefreshOutcome(outcome="gone")
        # The channel's own host and app: a Bluesky account's PDS, a Mastodon instance's registered app.
        connector = await connector_for(integration, self._connectors, self._uows, self._sealer)
        if connector is None:
            return RefreshOutcome(outcome="gone")
        record = integration_record(integration.id)
        refresh_token = self._sealer.decrypt_str(integration.refresh_token, record=record, field="refreshToken")
        fingerprint = refresh_fingerprint(refresh_token)
        if (
            integration.refresh_in_flight_fingerprint == fingerprint
            and integration.provider_identifier in SINGLE_USE_REFRESH
        ):
            await self._mark_refresh_needed(integration, UNKNOWN_OUTCOME)
            return RefreshOutcome(outcome="unknown")
        proxy = await self._proxy_for(target.organization_id, integration.id)
        if not await self._journal(integration, fingerprint):
            return RefreshOutcome(outcome="gone")
        try:
            async with self._heartbeats():
                tokens = await connector.refresh(refresh_token=refresh_token, proxy=proxy)
        except Unconfirmed as exc:  # sent, answer lost: the journal stays, and the next attempt decides
            raise ApplicationError(str(exc), type="Unconfirmed") from None
        except (AuthRevoked, AuthExpired, InvalidRequest) as exc:
            await self._mark_refresh_needed(integration, type(exc).__name__)
            return RefreshOutcome(outcome="revoked")
        except RateLimited as exc:
            await self._settle(integration)
            delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
            raise ApplicationError(str(exc), type="RateLimited", next_retry_delay=delay) from None
        except ConnectorError as exc:  # never sent (connection refused, proxy down) or refused with a 5xx: retry
            await self._settle(integration)
            raise ApplicationError(str(exc), type=type(exc).__name__) from None
        now = self._clock.now()
        async with self._uows() as uow:
            current = await uow.integrations.get(target.organization_id, integration.id)
            if current is None:
                return RefreshOutcome(outcome="gone")
            updated = current.model_copy(update={
                "token": self._sealer.encrypt(tokens.access_token, record=record, field="token"),
                # A platform that did not resend a refresh token keeps the one we have.
                "refresh_token": self._sealer.encrypt(tokens.refresh_token, record=record, field="refreshToken")
                if tokens.refresh_token else current.refresh_token,
                "token_expiration": tokens.expires_at,
                "refresh_in_flight_at": None,
                "refresh_in_flight_fingerprint": None,
                "updated_at": now,
            })  # fmt: skip
            await uow.integrations.update(updated)
            await uow.commit()
        activity.logger.info("refreshed the token of integration %s", integration.id)
        return RefreshOutcome(outcome="refreshed", expires_at=tokens.expires_at)

    async def _journal(self, integration: Integration, fingerprint: str) -> bool:
        """Record, durably and before sending, that this refresh token is about to be presented. `updated_at` stays:
        it tells waiting publishers that new tokens were stored."""
        async with self._uows() as uow:
            current = await uow.integrations.get(integration.organization_id, integration.id)
            if current is None:
                return False
            await uow.integrations.update(current.model_copy(update={
                "refresh_in_flight_at": self._clock.now(), "refresh_in_flight_fingerprint": fingerprint,
            }))  # fmt: skip
            await uow.commit()
        return True

    async def _settle(self, integration: Integration) -> None:
        """The platform answered without rotating, or never got the request: the token is still good."""
        async with self._uows() as uow:
            current = await uow.integrations.get(integration.organization_id, integration.id)
            if current is not None and current.refresh_in_flight_fingerprint is not None:
                await uow.integrations.update(
                    current.model_copy(update={"refresh_in_flight_at": None, "refresh_in_flight_fingerprint": None})
                )
                await uow.commit()

    @contextlib.asynccontextmanager
    async def _heartbeats(self) -> AsyncIterator[None]:
        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(HEARTBEAT_EVERY_S)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _mark_refresh_needed(self, integration: Integration, reason: str) -> None:
        await self._refresh_needed.mark(integration.organization_id, integration.id, reason, end_refresh=True)
