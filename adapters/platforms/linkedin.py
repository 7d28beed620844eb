"""LinkedIn: 3-legged OAuth without PKCE, client secret in the form body, refresh tokens (partner apps) that are NOT
rotated and whose 365-day lifetime does not slide; the profile comes from OpenID userinfo."""

from __future__ import annotations

from urllib.parse import urlencode

from adapters.platforms.base import CallKind, bearer, json_body, need, opt_str, require_str, send, token_set
from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import AuthorizationStart, PlatformProfile, ProxySpec, TokenSet
from domain.identity.platforms import Platform


class LinkedInConnector:
    platform = Platform.LINKEDIN
    uses_pkce = False  # LinkedIn's web flow has no PKCE; the state parameter binds the callback

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    def start_authorization(self, *, state: str, redirect_uri: str) -> AuthorizationStart:
        query = {
            "response_type": "code",
            "client_id": self.e.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.e.scopes),
            "state": state,
        }
        return AuthorizationStart(
            f"{need(self.platform, self.e.authorize_url, 'authorize')}?{urlencode(query)}", state, None
        )

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, proxy: ProxySpec | None
    ) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._token(form, proxy, "token")

    async def refresh(self, *, refresh_token: str, proxy: ProxySpec | None) -> TokenSet:
        # Not rotated: LinkedIn answers with the same refresh token (and its original expiry).
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, proxy, "refresh")

    async def revoke(self, *, token: str, proxy: ProxySpec | None) -> None:
        await send(
            self.platform,
            "POST",
            need(self.platform, self.e.revoke_url, "revoke"),
            proxy=proxy,
            kind="token",
            data={"token": token, **self._client()},
        )

    async def profile(self, *, access_token: str, proxy: ProxySpec | None) -> PlatformProfile:
        response = await send(
            self.platform, "GET", f"{self.e.api_base}/v2/userinfo", proxy=proxy, headers=bearer(access_token)
        )
        data = json_body(self.platform, response)
        # The member id (`sub`) is what posts need as urn:li:person:{sub}; LinkedIn exposes no public handle.
        return PlatformProfile(
            internal_id=require_str(self.platform, data, "sub"),
            name=str(data.get("name") or ""),
            handle=None,
            picture=opt_str(data.get("picture")),
        )

    async def _token(self, form: dict[str, str], proxy: ProxySpec | None, kind: CallKind) -> TokenSet:
        url = need(self.platform, self.e.token_url, "token")
        response = await send(self.platform, "POST", url, proxy=proxy, kind=kind, data={**form, **self._client()})
        return token_set(self.platform, json_body(self.platform, response))

    def _client(self) -> dict[str, str]:
        return {"client_id": self.e.client_id, "client_secret": self.e.client_secret}
