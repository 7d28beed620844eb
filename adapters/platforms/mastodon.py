"""Mastodon: every instance is its own OAuth server. An app is registered per instance at runtime
(`register_app`), then the usual code flow with PKCE S256 runs against that instance. Tokens never expire and there
is no refresh token.

A connector is bound to one instance and one registered app: `for_instance()` gives one for another instance."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from adapters.platforms.base import bearer, json_body, opt_str, pkce_pair, require_str, send, token_set
from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import AuthorizationStart, AuthRevoked, PlatformProfile, ProxySpec, TokenSet
from domain.identity.platforms import Platform

DEFAULT_APP_NAME = "Souls"


class MastodonConnector:
    platform = Platform.MASTODON
    uses_pkce = True  # Mastodon 4.3+ supports S256; older instances ignore the extra parameters

    def __init__(self, endpoints: PlatformEndpoints, *, app_name: str = DEFAULT_APP_NAME) -> None:
        self.e = endpoints
        self.app_name = app_name
        self.instance = endpoints.api_base.rstrip("/")

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.e.scopes

    def for_instance(self, instance_base_url: str, client_id: str, client_secret: str) -> MastodonConnector:
        """A connector for `instance_base_url` using the app registered there."""
        base = instance_base_url.rstrip("/")
        endpoints = PlatformEndpoints(
            authorize_url=f"{base}/oauth/authorize",
            token_url=f"{base}/oauth/token",
            revoke_url=f"{base}/oauth/revoke",
            api_base=base,
            client_id=client_id,
            client_secret=client_secret,
            scopes=self.e.scopes,
        )
        return MastodonConnector(endpoints, app_name=self.app_name)

    async def register_app(self, instance_base_url: str, redirect_uri: str, proxy: ProxySpec | None) -> tuple[str, str]:
        """POST /api/v1/apps on the instance: (client_id, client_secret) to keep per instance."""
        response = await send(
            self.platform,
            "POST",
            f"{instance_base_url.rstrip('/')}/api/v1/apps",
            proxy=proxy,
            kind="token",
            data={"client_name": self.app_name, "redirect_uris": redirect_uri, "scopes": " ".join(self.e.scopes)},
        )
        data = json_body(self.platform, response)
        return require_str(self.platform, data, "client_id"), require_str(self.platform, data, "client_secret")

    def start_authorization(self, *, state: str, redirect_uri: str) -> AuthorizationStart:
        verifier, challenge = pkce_pair()
        query = {
            "response_type": "code",
            "client_id": self.e.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.e.scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return AuthorizationStart(f"{self.instance}/oauth/authorize?{urlencode(query)}", state, verifier)

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, proxy: ProxySpec | None
    ) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.e.scopes),
            **self._client(),
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        response = await send(
            self.platform, "POST", f"{self.instance}/oauth/token", proxy=proxy, kind="token", data=form
        )
        return token_set(self.platform, json_body(self.platform, response))

    async def refresh(self, *, refresh_token: str, proxy: ProxySpec | None) -> TokenSet:
        # Mastodon tokens do not expire, so there is nothing to refresh: a refused token means a revoked grant.
        raise AuthRevoked("mastodon: tokens have no refresh; reconnect the account")

    async def revoke(self, *, token: str, proxy: ProxySpec | None) -> None:
        await send(
            self.platform,
            "POST",
            f"{self.instance}/oauth/revoke",
            proxy=proxy,
            kind="token",
            data={"token": token, **self._client()},
        )

    async def profile(self, *, access_token: str, proxy: ProxySpec | None) -> PlatformProfile:
        response = await send(
            self.platform,
            "GET",
            f"{self.instance}/api/v1/accounts/verify_credentials",
            proxy=proxy,
            headers=bearer(access_token),
        )
        data = json_body(self.platform, response)
        acct = str(data.get("acct") or data.get("username") or "")
        # A local account's acct has no domain; the full handle is only unique with the instance's host.
        handle = acct if "@" in acct or not acct else f"{acct}@{urlsplit(self.instance).netloc}"
        return PlatformProfile(
            internal_id=require_str(self.platform, data, "id"),
            name=str(data.get("display_name") or data.get("username") or ""),
            handle=handle or None,
            picture=opt_str(data.get("avatar")),
        )

    def _client(self) -> dict[str, str]:
        return {"client_id": self.e.client_id, "client_secret": self.e.client_secret}
