"""Connecting channels: the OAuth round trip (state single-use, ten minutes, bound to organization, user and
platform; the PKCE verifier kept sealed server-side), Bluesky's app-password sign-in, Mastodon's app registered per
instance, upserting the Integration, disconnecting.

Tokens are sealed at rest (`integrations/<id>`, fields `token` and `refreshToken`) and never leave the server; an app
password serves one sign-in and is never stored. A connection may go through the proxy of an Account (or the default
proxy of a Soul), so the platform sees that address from the very first request.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping as MappingType
from datetime import timedelta

from domain.auth import Principal
from domain.channels.apps import PlatformApp, app_record, connector_for, normalize_base
from domain.channels.connectors import (
    ChannelWorkflows,
    ConnectorError,
    InstanceConnector,
    InvalidRequest,
    PlatformConnector,
    PlatformProfile,
    ProxySpec,
    RateLimited,
    ServiceConnector,
    TokenSet,
)
from domain.channels.integrations import Integration, integration_record
from domain.channels.oauth import STATE_TTL_S, OAuthState, state_record
from domain.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unavailable
from domain.identity.accounts import Account
from domain.identity.platforms import Platform
from domain.identity.proxies import HealthStatus, proxy_record
from domain.ids import new_id
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


def _login_error(exc: ConnectorError) -> Exception:
    """A failed app-password sign-in. The messages are ours alone: nothing the platform echoed back can carry the
    password into a response or a log line."""
    if isinstance(exc, RateLimited):
        return TooManyRequests("Bluesky is limiting sign-ins (30 per 5 minutes); retry later.",
                               retry_after_s=int(exc.retry_after_s or 300), code="platform_rate_limited")  # fmt: skip
    if isinstance(exc, InvalidRequest):
        return InvalidInput("Bluesky refused the identifier or the app password.", field="appPassword",
                            code="bluesky_login_failed")  # fmt: skip
    return Unavailable("Bluesky could not be reached; retry shortly.", code="platform_unavailable")


log = logging.getLogger(__name__)


class IntegrationService:
    def __init__(
        self,
        ctx: IdentityContext,
        sealer: FieldSealer,
        connectors: MappingType[Platform, PlatformConnector],
        redirect_base: str,
        workflows: ChannelWorkflows,
        *,
        dev_base: str | None = None,
    ) -> None:
        """`dev_base`: the sandbox's URL when the platforms are the sandbox; instance and service URLs below it are
        accepted over plain http and with a path."""
        self._workflows = workflows
        self._ctx = ctx
        self._sealer = sealer
        self._connectors = connectors
        self._redirect_base = redirect_base.rstrip("/")
        self._dev_base = dev_base

    def _connector_of(self, provider: str) -> PlatformConnector:
        try:
            return self._connectors[Platform.parse(provider)]
        except (InvalidInput, KeyError):
            raise NotFound("Provider", provider) from None

    def connector(self, provider: str) -> PlatformConnector:
        """The connector of a platform connected through an OAuth round trip."""
        connector = self._connector_of(provider)
        if isinstance(connector, ServiceConnector):
            raise InvalidInput(
                f"{connector.platform.value} connects with an identifier and an app password: POST "
                f"/integrations/social/{connector.platform.value}/connect {{identifier, appPassword}}.",
                field="provider", code="app_password_required",
            )  # fmt: skip
        return connector

    def redirect_uri(self, platform: Platform) -> str:
        return f"{self._redirect_base}/integrations/social/{platform.value}"

    def _base(self, raw: str, *, field: str, what: str) -> str:
        return normalize_base(raw, field=field, dev_base=self._dev_base, what=what)

    async def start(
        self, principal: Principal, provider: str, *, instance: str | None = None, account_id: str | None = None,
        soul_id: str | None = None,
    ) -> tuple[str, str]:  # fmt: skip
        """The authorize URL and its state. Mastodon: the app of `instance` (registered there on first use)."""
        connector = self.connector(provider)
        platform = connector.platform
        proxy = await self._connect_proxy(principal, platform, account_id, soul_id)
        redirect_uri = self.redirect_uri(platform)
        api_base: str | None = None
        if isinstance(connector, InstanceConnector):
            api_base = self._base(instance or connector.instance, field="instance", what="instance URL")
            connector = await self._app_connector(connector, api_base, redirect_uri, proxy)
        elif instance is not None:
            raise InvalidInput(f"{platform.value} has no instances; leave out `instance`.", field="instance",
                               code="instance_not_supported")  # fmt: skip
        state = new_opaque_token("st", 24)
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
                platform=platform, redirect_uri=redirect_uri, code_verifier=verifier, api_base=api_base,
                account_id=account_id, soul_id=soul_id, created_at=now,
                expires_at=now + timedelta(seconds=STATE_TTL_S),
            ))  # fmt: skip
            await uow.commit()
        return started.url, state

    async def _app_connector(
        self, connector: InstanceConnector, api_base: str, redirect_uri: str, proxy: ProxySpec | None
    ) -> InstanceConnector:
        """The connector for the app registered on this instance for this redirect URI, registering it once."""
        app = await self._stored_app(connector.platform, api_base, redirect_uri)
        if app is None:
            app = await self._register_app(connector, api_base, redirect_uri, proxy)
        return self._bind(connector, app)

    async def _stored_app(self, platform: Platform, api_base: str, redirect_uri: str) -> PlatformApp | None:
        async with self._ctx.uows.reading() as uow:
            return await uow.platform_apps.get(platform, api_base, redirect_uri)

    def _bind(self, connector: InstanceConnector, app: PlatformApp) -> InstanceConnector:
        secret = self._sealer.decrypt_str(app.client_secret, record=app_record(app.id), field="clientSecret")
        return connector.for_instance(app.api_base, app.client_id, secret)

    async def _register_app(
        self, connector: InstanceConnector, api_base: str, redirect_uri: str, proxy: ProxySpec | None
    ) -> PlatformApp:
        platform = connector.platform
        try:
            client_id, client_secret = await connector.register_app(api_base, redirect_uri, proxy)
        except ConnectorError as exc:
            raise _registration_error(exc, platform, api_base) from exc
        app_id = new_id()
        app: PlatformApp | None = PlatformApp(
            id=app_id, platform=platform, api_base=api_base, client_id=client_id,
            client_secret=self._sealer.encrypt(client_secret, record=app_record(app_id), field="clientSecret"),
            scopes=" ".join(connector.scopes), redirect_uri=redirect_uri, created_at=self._ctx.clock.now(),
        )  # fmt: skip
        async with self._ctx.uows() as uow:
            if app is not None and not await uow.platform_apps.add(app):
                # Another request registered this instance at the same moment: use theirs (ours stays unused).
                app = await uow.platform_apps.get(platform, api_base, redirect_uri)
            await uow.commit()
        if app is None:  # pragma: no cover - the winner's row cannot vanish: apps are never deleted
            raise Unavailable("The instance's app could not be stored; retry.", code="platform_app_unavailable")
        log.info("registered an app on %s instance %s", platform.value, api_base)
        return app

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
        proxy = await self._connect_proxy(principal, connector.platform, pending.account_id, pending.soul_id)
        api_base: str | None = None
        if isinstance(connector, InstanceConnector):
            api_base = pending.api_base or connector.instance
            app = await self._stored_app(connector.platform, api_base, pending.redirect_uri)
            if app is None:
                raise invalid
            connector = self._bind(connector, app)
        try:
            tokens = await connector.exchange_code(
                code=code, redirect_uri=pending.redirect_uri, code_verifier=verifier, proxy=proxy
            )
            profile = await connector.profile(access_token=tokens.access_token, proxy=proxy)
        except ConnectorError as exc:
            raise platform_error(exc, connector.platform) from exc
        integration = await self._upsert(principal, connector, tokens, profile, api_base=api_base)
        await self._connected(principal, integration, ip)
        return integration

    async def connect_with_app_password(
        self, principal: Principal, provider: str, identifier: str, app_password: str, *, service: str | None,
        account_id: str | None, soul_id: str | None, ip: str | None,
    ) -> Integration:  # fmt: skip
        """Sign in with an app password (Bluesky) on `service` (the PDS; default the configured one). Only the
        session's tokens are kept: refreshSession needs the refresh JWT alone."""
        connector = self._connector_of(provider)
        if not isinstance(connector, ServiceConnector):
            raise InvalidInput(
                f"{connector.platform.value} connects through OAuth: GET /integrations/social/"
                f"{connector.platform.value} for the authorize URL, then POST its code and state here.",
                field="provider", code="oauth_required",
            )  # fmt: skip
        default = connector.service
        chosen = self._base(service, field="service", what="service URL") if service else default
        api_base = None if chosen == default else chosen
        proxy = await self._connect_proxy(principal, connector.platform, account_id, soul_id)
        target = connector.at_service(api_base) if api_base else connector
        try:
            tokens, profile = await target.create_session(identifier, app_password, proxy)
        except ConnectorError as exc:
            raise _login_error(exc) from None  # the platform's own wording stays out, password and all
        integration = await self._upsert(principal, connector, tokens, profile, api_base=api_base)
        await self._connected(principal, integration, ip)
        return integration

    async def _connected(self, principal: Principal, integration: Integration, ip: str | None) -> None:
        platform = integration.provider_identifier
        details = {"platform": platform.value, "internalId": integration.internal_id}
        if integration.api_base:
            details["apiBase"] = integration.api_base
        await audit.record_now(
            self._ctx.uows, organization_id=principal.organization_id, actor=principal, action="integration.connect",
            target_type="integration", target_id=integration.id, ip=ip, details=details,
        )  # fmt: skip
        try:
            await self._workflows.start_autolink(principal.organization_id, integration.id, platform)
            if integration.token_expiration is not None and integration.refresh_token is not None:
                await self._workflows.start_token_refresh(principal.organization_id, integration.id, platform)
        except Exception:  # the channel is connected either way; it just stays unlinked, as the matrix shows
            log.warning("could not start the workflows of integration %s", integration.id, exc_info=True)

    # --- the connecting proxy --------------------------------------------------------------------------------------

    async def _connect_proxy(
        self, principal: Principal, platform: Platform, account_id: str | None, soul_id: str | None
    ) -> ProxySpec | None:
        """The proxy a connection goes through: the account's (else its soul's default), or the soul's default;
        None (a direct connection) when neither is named. Named but without a usable proxy → 422: a connection meant
        to come from the account's address must never silently come from ours."""
        org = principal.organization_id
        if account_id and soul_id:
            raise InvalidInput("Name accountId or soulId, not both.", field="accountId", code="proxy_source_ambiguous")
        if account_id:
            account = await self._ctx.store.accounts.get(org, account_id)
            if account is None:
                raise NotFound("Account", account_id)
            if account.platform is not platform:
                raise InvalidInput(f"Account {account_id!r} is a {account.platform.value} account, not "
                                   f"{platform.value}.", field="accountId", code="platform_mismatch")  # fmt: skip
            proxy_id = account.proxy_id
            if proxy_id is None:
                soul = await self._ctx.store.souls.get(org, account.soul_id)
                proxy_id = soul.proxy_id if soul else None
            whose = "the account has no proxy and its soul no default proxy"
        elif soul_id:
            found = await self._ctx.store.souls.get(org, soul_id)
            if found is None:
                raise NotFound("Soul", soul_id)
            proxy_id, whose = found.proxy_id, "the soul has no default proxy"
        else:
            return None
        if proxy_id is None:
            raise InvalidInput(f"Cannot connect through a proxy: {whose}. Assign one, or connect without naming it.",
                               field="accountId" if account_id else "soulId", code="no_proxy")  # fmt: skip
        return await self._proxy(org, proxy_id)

    async def _proxy(self, organization_id: str, proxy_id: str) -> ProxySpec:
        proxy = await self._ctx.store.proxies.get(organization_id, proxy_id)
        if proxy is None:
            raise InvalidInput("The assigned proxy no longer exists.", code="no_proxy")
        if proxy.health_status == HealthStatus.FAILED:
            raise InvalidInput(f"The proxy {proxy.name!r} failed its last health check; fix or replace it first.",
                               code="proxy_failed")  # fmt: skip
        password = (
            self._sealer.decrypt_str(proxy.password, record=proxy_record(proxy.id), field="credentials.password")
            if proxy.password
            else None
        )
        return ProxySpec(proxy.protocol.value, proxy.host, proxy.port, proxy.username, password)

    async def _account_proxy(self, account: Account) -> ProxySpec | None:
        proxy_id = account.proxy_id
        if proxy_id is None:
            soul = await self._ctx.store.souls.get(account.organization_id, account.soul_id)
            proxy_id = soul.proxy_id if soul else None
        return await self._proxy(account.organization_id, proxy_id) if proxy_id else None

    # --- storing -------------------------------------------------------------------------------------------------

    async def _upsert(
        self, principal: Principal, connector: PlatformConnector, tokens: TokenSet, profile: PlatformProfile,
        *, api_base: str | None,
    ) -> Integration:  # fmt: skip
        """Reconnecting the same platform account updates its integration and keeps a refresh token the platform
        did not resend."""
        platform = connector.platform
        # An account id is unique only within its instance on per-instance platforms.
        per_instance = isinstance(connector, InstanceConnector)
        now = self._ctx.clock.now()
        async with self._ctx.uows() as uow:
            same = [i for i in await uow.integrations.find(principal.organization_id, platform=platform)
                    if i.internal_id == profile.internal_id]  # fmt: skip
            existing = next((i for i in same if not per_instance or i.api_base == api_base), None)
            if existing is None and same:
                raise Conflict(
                    f"Another {platform.value} channel of this organization has the same account id on another "
                    "instance; disconnect it first.",
                    code="integration_exists",
                )
            integration_id = existing.id if existing else new_id()
            record = integration_record(integration_id)
            sealed_refresh = (
                self._sealer.encrypt(tokens.refresh_token, record=record, field="refreshToken")
                if tokens.refresh_token
                else (existing.refresh_token if existing else None)
            )
            integration = Integration(
                id=integration_id, organization_id=principal.organization_id, provider_identifier=platform,
                internal_id=profile.internal_id, name=profile.name, handle=profile.handle, picture=profile.picture,
                api_base=api_base, token=self._sealer.encrypt(tokens.access_token, record=record, field="token"),
                refresh_token=sealed_refresh, token_expiration=tokens.expires_at, disabled=False,
                refresh_needed=False, created_at=existing.created_at if existing else now, updated_at=now,
            )  # fmt: skip
            if existing:
                await uow.integrations.update(integration)
            else:
                await uow.integrations.add(integration)
            await uow.commit()
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

    async def get(self, principal: Principal, integration_id: str) -> Integration:
        async with self._ctx.uows.reading() as uow:
            integration = await uow.integrations.get(principal.organization_id, integration_id)
        if integration is None:
            raise NotFound("Integration", integration_id)
        return integration

    async def delete(self, principal: Principal, integration_id: str, *, ip: str | None) -> None:
        """Revoke at the platform (best effort, through the linked account's proxy), unlink its account, remove it
        and its mappings."""
        integration = await self.get(principal, integration_id)
        linked = await self._ctx.store.accounts.linked_to(principal.organization_id, integration.id)
        await self._revoke(integration, linked)
        if linked is not None:
            await self._ctx.store.accounts.update(linked.model_copy(update={"integration_id": None}))
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

    async def _revoke(self, integration: Integration, account: Account | None) -> None:
        """Best effort: the channel is removed either way; the platform forgets an unused grant on its own. Never
        around the account's proxy: without a usable one, no revoke."""
        connector = await connector_for(integration, self._connectors, self._ctx.uows, self._sealer,
                                        redirect_uri=self.redirect_uri(integration.provider_identifier))  # fmt: skip
        if connector is None:
            return
        # An app-password session is ended with its refresh token, which takes the access token with it.
        field, sealed = (
            ("refreshToken", integration.refresh_token)
            if isinstance(connector, ServiceConnector)
            else ("token", integration.token)
        )
        if not sealed:
            return
        token = self._sealer.decrypt_str(sealed, record=integration_record(integration.id), field=field)
        with contextlib.suppress(ConnectorError, NotImplementedError, InvalidInput):
            proxy = await self._account_proxy(account) if account else None
            await connector.revoke(token=token, proxy=proxy)


def _registration_error(exc: ConnectorError, platform: Platform, api_base: str) -> Exception:
    if isinstance(exc, RateLimited):
        return platform_error(exc, platform)
    if isinstance(exc, InvalidRequest):
        return InvalidInput(f"{api_base} refused to register our app; is it a {platform.value} instance?",
                            field="instance", code="instance_refused")  # fmt: skip
    return Unavailable(f"{api_base} could not be reached to register our app; check the address or retry later.",
                       code="instance_unavailable")  # fmt: skip
