"""Instagram Login and Threads share one flow (PLATFORMS.md): authorize → code for a 1 h token → exchange it for a
60-day long-lived token → refresh that long-lived token itself before it runs out.

There is no separate refresh token: the long-lived access token is what gets refreshed, so TokenSet.refresh_token
carries that same token (lets callers treat "has a refresh token" uniformly) and `refresh()` expects it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from adapters.platforms.base import bearer, json_body, need, opt_str, require_str, send, token_set
from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import AuthorizationStart, PlatformProfile, ProxySpec, TokenSet
from domain.identity.platforms import Platform


class MetaLoginConnector:
    platform: Platform
    uses_pkce = False  # neither Instagram Login nor Threads supports PKCE
    exchange_grant: str
    refresh_grant: str
    profile_fields: str
    picture_field: str

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    def start_authorization(self, *, state: str, redirect_uri: str) -> AuthorizationStart:
        query = {
            "client_id": self.e.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ",".join(self.e.scopes),
            "state": state,
        }
        url = need(self.platform, self.e.authorize_url, "authorize")
        return AuthorizationStart(f"{url}?{urlencode(query)}", state, None)

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, proxy: ProxySpec | None
    ) -> TokenSet:
        form = {
            "client_id": self.e.client_id,
            "client_secret": self.e.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            # Instagram appends "#_" to the redirect; a caller that kept it in the code would be refused.
            "code": code.removesuffix("#_"),
        }
        url = need(self.platform, self.e.token_url, "token")
        short = json_body(self.platform, await send(self.platform, "POST", url, proxy=proxy, kind="token", data=form))
        # The 1 h token is useless for a channel: swap it for the 60-day one straight away.
        params = {
            "grant_type": self.exchange_grant,
            "client_secret": self.e.client_secret,
            "access_token": require_str(self.platform, short, "access_token"),
        }
        response = await send(
            self.platform, "GET", f"{self.e.api_base}/access_token", proxy=proxy, kind="token", params=params
        )
        return self._long_lived(json_body(self.platform, response))

    async def refresh(self, *, refresh_token: str, proxy: ProxySpec | None) -> TokenSet:
        """`refresh_token` is the current long-lived access token; the platform refuses it while younger than 24 h
        (InvalidRequest) and once expired or revoked (AuthRevoked)."""
        params = {"grant_type": self.refresh_grant, "access_token": refresh_token}
        response = await send(
            self.platform, "GET", f"{self.e.api_base}/refresh_access_token", proxy=proxy, kind="refresh", params=params
        )
        return self._long_lived(json_body(self.platform, response))

    async def revoke(self, *, token: str, proxy: ProxySpec | None) -> None:
        """Instagram Login and Threads have no token revocation endpoint: the user removes the app in their settings.
        Nothing is sent; the caller drops the token, which dies within its 60 days."""

    async def profile(self, *, access_token: str, proxy: ProxySpec | None) -> PlatformProfile:
        response = await send(
            self.platform,
            "GET",
            f"{self.e.api_base}/{self.e.graph_version}/me",
            proxy=proxy,
            params={"fields": self.profile_fields},
            headers=bearer(access_token),  # header, not ?access_token=, so the token stays out of URLs and logs
        )
        data = json_body(self.platform, response)
        return PlatformProfile(
            internal_id=self._id(data),
            name=str(data.get("name") or data.get("username") or ""),
            handle=opt_str(data.get("username")),
            picture=opt_str(data.get(self.picture_field)),
        )

    def _id(self, data: dict[str, Any]) -> str:
        return require_str(self.platform, data, "id")

    def _long_lived(self, data: dict[str, Any]) -> TokenSet:
        return token_set(self.platform, data, refresh_token=require_str(self.platform, data, "access_token"))
