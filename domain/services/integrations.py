"""Connecting channels: the OAuth round trip (state single-use, ten minutes, bound to organization, user and
platform; the PKCE verifier kept sealed server-side), upserting the Integration, disconnecting.

Tokens are sealed at rest (`integrations/<id>`, fields `token` and `refreshToken`) and never leave the server.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping as MappingType
from datetime import timedelta

from domain.auth import Principal
from domain.channels.connectors import (
    ChannelWorkflows,
    ConnectorError,
    InvalidRequest,
    PlatformConnector,
    RateLimited,
    TokenSet,
)
from domain.channels.integrations import Integration, integration_record
from domain.channels.oauth import STATE_TTL_S, OAuthState, state_record
from domain.errors import InvalidInput, NotFound, TooManyRequests, Unavailable
from domain.identity.accounts import AccountFilter
from domain.identity.platforms import Platform
from domain.ids import new_id
from domain.pagination import PageRequest
from domain.ports import FieldSealer
from domain.services import audit
from domain.services.identity.souls import IdentityContext
from domain.tokens import digest, new_opaque_token


def platform_error(exc: ConnectorError, platform: Platform) -> Exception:
    """The API error for a connector failure: the caller's fault (422), the platform's (503) or a wait (429)."""
    name = platform.value
    if isinstance(exc, RateLimited):
        return TooManyRequests(f"{name} is rate limiting; retry later.", retry_after_s=int(exc.retry_after_s or 60),
                               code="platform_rate_limited")  # fmt: skip
    if isinstance(exc, InvalidRequest):
        return InvalidInput(f"{name} refused the authorization: {exc}", code="oauth_exchange_failed")
    return Unavailable(f"{name} could not be reached: {exc}", code="platform_unavailable")


log = logging.getLogger(__name__)

# Platforms whose connection is not a plain OAuth round trip; their adapters exist (tested against the sandbox), the
# API flows for them do not yet.
_NOT_OAUTH_YET = {
    Platform.BLUESKY: "Bluesky connects with an identifier and an app password, which this API does not take yet.",
    Platform.MASTODON: "Mastodon needs an app registered on the user's instance, which this API does not do yet.",
}


class IntegrationService:
    def __init__(
        self,
        ctx: IdentityContext,
        sealer: FieldSealer,
        connectors: MappingType[Platform, PlatformConnector],
        redirect_base: str,
        workflows: ChannelWorkflows,
    ) -> None:
        self._workflows = workflows
        self._ctx = ctx
        self._sealer = sealer
        self._connectors = connectors
        self._redirect_base = redirect_base.rstrip("/")

    def connector(self, provider: str) -> PlatformConnector:
        try:
            platform = Platform.parse(provider)
            connector = self._connectors[platform]
        except (InvalidInput, KeyError):
            raise NotFound("Provider", provider) from None
        if platform in _NOT_OAUTH_YET:
            raise InvalidInput(_NOT_OAUTH_YET[platform], field="provider", code="provider_not_supported")
        return connector

    def redirect_uri(self, platform: Platform) -> str:
        return f"{self._redirect_base}/integrations/social/{platform.value}"

    async def start(self, principal: Principal, provider: str) -> tuple[str, str]:
        """The authorize URL and its state."""
        connector = self.connector(provider)
        state = new_opaque_token("st", 24)
        redirect_uri = self.redirect_uri(connector.platform)
        started = connector.start_authorization(state=state, redirect_uri=redirect_uri)
        now = self._ctx.clock.now()
        key = digest(state)
        verifier = (
            self._sealer.encrypt(started.code_verifier, record=state_record(key), field="codeVerifier")
            if started.code_verifier
            else None
        )
        async with self._ctx.uows() as uow:
            await uow.oauth_states.add(OAuthState(
                state_digest=key, organization_id=principal.organization_id, actor_id=principal.actor_id,
                platform=connector.platform, redirect_uri=redirect_uri, code_verifier=verifier, created_at=now,
                expires_at=now + timedelta(seconds=STATE_TTL_S),
            ))  # fmt: skip
            await uow.commit()
        return started.url, state

    async def connect(
        self, principal: Principal, provider: str, code: str, state: str, *, ip: str | None
    ) -> Integration:
        connector = self.connector(provider)
        now = self._ctx.clock.now()
        async with self._ctx.uows() as uow:
            pending = await uow.oauth_states.take(digest(state), now)
            await uow.commit()  # used now, whatever happens next: a state never works twice
        invalid = InvalidInput("The state is unknown, already used, or not yours; start the connection again.",
                               field="state", code="oauth_state_invalid")  # fmt: skip
        if pending is None or pending.organization_id != principal.organization_id:
            raise invalid
        if pending.actor_id != principal.actor_id or pending.platform is not connector.platform:
            raise invalid
        if pending.expires_at <= now:
            raise InvalidInput("The state has expired; start the connection again.", field="state",
                               code="oauth_state_expired")  # fmt: skip
        verifier = (
            self._sealer.decrypt_str(
                pending.code_verifier, record=state_record(pending.state_digest), field="codeVerifier"
            )
            if pending.code_verifier
            else None
        )
        try:
            tokens = await connector.exchange_code(
                code=code, redirect_uri=pending.redirect_uri, code_verifier=verifier, proxy=None
            )
            profile = await connector.profile(access_token=tokens.access_token, proxy=None)
        except ConnectorError as exc:
            raise platform_error(exc, connector.platform) from exc
        integration = await self._upsert(principal, connector.platform, tokens, profile.internal_id, profile.name,
                                         profile.handle, profile.picture)  # fmt: skip
        await audit.record_now(
            self._ctx.uows, organization_id=principal.organization_id, actor=principal, action="integration.connect",
            target_type="integration", target_id=integration.id, ip=ip,
            details={"platform": connector.platform.value, "internalId": integration.internal_id},
        )  # fmt: skip
        try:
            await self._workflows.start_autolink(principal.organization_id, integration.id, connector.platform)
            if integration.token_expiration is not None and integration.refresh_token is not None:
                await self._workflows.start_token_refresh(principal.organization_id, integration.id, connector.platform)
        except Exception:  # the channel is connected either way; it just stays unlinked, as the matrix shows
            log.warning("could not start the workflows of integration %s", integration.id, exc_info=True)
        return integration

    async def refresh(self, principal: Principal, integration_id: str) -> None:
        """Ask the channel's refresh workflow to refresh now (starting it if needed): refreshes never overlap."""
        integration = await self.get(principal, integration_id)
        if integration.refresh_token is None:
            raise InvalidInput("This channel has no refresh token; reconnect it instead.", code="no_refresh_token")
        try:
            await self._workflows.start_token_refresh(
                principal.organization_id, integration.id, integration.provider_identifier, refresh_now=True
            )
        except Exception as exc:
            log.warning("could not signal the refresh of integration %s", integration.id, exc_info=True)
            raise Unavailable(
                "The workflow service is not answering; retry shortly.", code="temporal_unavailable"
            ) from exc

    async def _upsert(
        self, principal: Principal, platform: Platform, tokens: TokenSet, internal_id: str, name: str,
        handle: str | None, picture: str | None,
    ) -> Integration:  # fmt: skip
        """Reconnecting the same platform account updates its integration and keeps a refresh token the platform
        did not resend."""
        now = self._ctx.clock.now()
        async with self._ctx.uows() as uow:
            existing = next(
                (i for i in await uow.integrations.find(principal.organization_id, platform=platform)
                 if i.internal_id == internal_id),
                None,
            )  # fmt: skip
            integration_id = existing.id if existing else new_id()
            record = integration_record(integration_id)
            sealed_refresh = (
                self._sealer.encrypt(tokens.refresh_token, record=record, field="refreshToken")
                if tokens.refresh_token
                else (existing.refresh_token if existing else None)
            )
            integration = Integration(
                id=integration_id, organization_id=principal.organization_id, provider_identifier=platform,
                internal_id=internal_id, name=name, handle=handle, picture=picture,
                token=self._sealer.encrypt(tokens.access_token, record=record, field="token"),
                refresh_token=sealed_refresh, token_expiration=tokens.expires_at, disabled=False,
                refresh_needed=False, created_at=existing.created_at if existing else now, updated_at=now,
            )  # fmt: skip
            if existing:
                await uow.integrations.update(integration)
            else:
                await uow.integrations.add(integration)
            await uow.commit()
        return integration

    async def get(self, principal: Principal, integration_id: str) -> Integration:
        async with self._ctx.uows.reading() as uow:
            integration = await uow.integrations.get(principal.organization_id, integration_id)
        if integration is None:
            raise NotFound("Integration", integration_id)
        return integration

    async def delete(self, principal: Principal, integration_id: str, *, ip: str | None) -> None:
        """Revoke at the platform (best effort), unlink its account, remove it and its mappings."""
        integration = await self.get(principal, integration_id)
        connector = self._connectors.get(integration.provider_identifier)
        if connector is not None and integration.token:
            token = self._sealer.decrypt_str(
                integration.token, record=integration_record(integration.id), field="token"
            )
            # Best effort: the channel is removed here either way; the platform forgets an unused grant on its own.
            with contextlib.suppress(ConnectorError, NotImplementedError):
                await connector.revoke(token=token, proxy=None)
        linked = await self._ctx.store.accounts.find(
            principal.organization_id, AccountFilter(integration_id=integration.id), PageRequest(limit=1)
        )
        for account in linked.items:
            await self._ctx.store.accounts.update(account.model_copy(update={"integration_id": None}))
        with contextlib.suppress(Exception):  # not running, or Temporal away: its next plan finds the channel gone
            await self._workflows.stop_token_refresh(integration.id)
        async with self._ctx.uows() as uow:
            await uow.integrations.delete(principal.organization_id, integration.id)  # mappings go with it
            await uow.commit()
        await audit.record_now(
            self._ctx.uows, organization_id=principal.organization_id, actor=principal,
            action="integration.disconnect", target_type="integration", target_id=integration.id, ip=ip,
            details={"platform": integration.provider_identifier.value},
        )  # fmt: skip
