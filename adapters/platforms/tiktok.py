"""TikTok v2: `client_key` instead of client_id, comma-separated scopes, rotating refresh tokens, and answers shaped
`{"data": ..., "error": {"code", "message", "log_id"}}` with code "ok" on success."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from adapters.platforms.base import CallKind, bearer, json_body, need, opt_str, require_str, send, token_set
from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import AuthorizationStart, PlatformProfile, ProxySpec, TokenSet, Transient
from domain.identity.platforms import Platform

_PROFILE_FIELDS = "open_id,union_id,avatar_url,display_name,username"


class TikTokConnector:
    platform = Platform.TIKTOK
    # TikTok's PKCE is for desktop/mobile apps only (and uses a hex challenge); the web flow relies on the secret.
    uses_pkce = False

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    def start_authorization(self, *, state: str, redirect_uri: str) -> AuthorizationStart:
        query = {
            "client_key": self.e.client_id,
            "response_type": "code",
            "scope": ",".join(self.e.scopes),
            "redirect_uri": redirect_uri,
            "state": state,
        }
        url = need(self.platform, self.e.authorize_url, "authorize")
        return AuthorizationStart(f"{url}?{urlencode(query)}", state, None)

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, proxy: ProxySpec | None
    ) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._token(form, proxy, "token")

    async def refresh(self, *, refresh_token: str, proxy: ProxySpec | None) -> TokenSet:
        # Rotating: the answer carries a new refresh token and the old one stops working.
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, proxy, "refresh")

    async def revoke(self, *, token: str, proxy: ProxySpec | None) -> None:
        url = need(self.platform, self.e.revoke_url, "revoke")
        await send(self.platform, "POST", url, proxy=proxy, kind="token", data={"token": token, **self._client()})

    async def profile(self, *, access_token: str, proxy: ProxySpec | None) -> PlatformProfile:
        response = await send(
            self.platform,
            "GET",
            f"{self.e.api_base}/v2/user/info/",
            proxy=proxy,
            params={"fields": _PROFILE_FIELDS},
            headers=bearer(access_token),
        )
        body = json_body(self.platform, response)
        error: Any = body.get("error") or {}
        if isinstance(error, dict) and error.get("code") not in (None, "ok"):
            raise Transient(f"tiktok: user info answered 2xx with error {error.get('code')!r}")
        user = (body.get("data") or {}).get("user") or {}
        return PlatformProfile(
            internal_id=require_str(self.platform, user, "open_id"),
            name=str(user.get("display_name") or ""),
            handle=opt_str(user.get("username")),
            picture=opt_str(user.get("avatar_url")),
        )

    async def _token(self, form: dict[str, str], proxy: ProxySpec | None, kind: CallKind) -> TokenSet:
        url = need(self.platform, self.e.token_url, "token")
        response = await send(self.platform, "POST", url, proxy=proxy, kind=kind, data={**form, **self._client()})
        return token_set(self.platform, json_body(self.platform, response))

    def _client(self) -> dict[str, str]:
        return {"client_key": self.e.client_id, "client_secret": self.e.client_secret}
