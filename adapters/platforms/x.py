"""X (API v2): OAuth 2.0 with required PKCE, Basic client auth, single-use refresh tokens that rotate every time."""

from __future__ import annotations

from urllib.parse import urlencode

from adapters.platforms.base import CallKind, bearer, json_body, need, opt_str, pkce_pair, require_str, send, token_set
from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import AuthorizationStart, PlatformProfile, ProxySpec, TokenSet
from domain.identity.platforms import Platform


class XConnector:
    platform = Platform.X
    uses_pkce = True

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

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
        return AuthorizationStart(f"{self.e.authorize_url}?{urlencode(query)}", state, verifier)

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, proxy: ProxySpec | None
    ) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier or "",
            "client_id": self.e.client_id,
        }
        return await self._token(form, proxy, "token")

    async def refresh(self, *, refresh_token: str, proxy: ProxySpec | None) -> TokenSet:
        # Single-use: the caller must store the new refresh token before anything else uses the old one, and must
        # never refresh one channel concurrently (reuse invalidates the whole family).
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self.e.client_id}
        return await self._token(form, proxy, "refresh")

    async def revoke(self, *, token: str, proxy: ProxySpec | None) -> None:
        await send(
            self.platform,
            "POST",
            need(self.platform, self.e.revoke_url, "revoke"),
            proxy=proxy,
            kind="token",
            data={"token": token, "client_id": self.e.client_id},
            auth=self._basic(),
        )

    async def profile(self, *, access_token: str, proxy: ProxySpec | None) -> PlatformProfile:
        response = await send(
            self.platform,
            "GET",
            f"{self.e.api_base}/2/users/me",
            proxy=proxy,
            params={"user.fields": "profile_image_url"},
            headers=bearer(access_token),
        )
        data = json_body(self.platform, response).get("data") or {}
        return PlatformProfile(
            internal_id=require_str(self.platform, data, "id"),
            name=str(data.get("name") or ""),
            handle=opt_str(data.get("username")),
            picture=opt_str(data.get("profile_image_url")),
        )

    async def _token(self, form: dict[str, str], proxy: ProxySpec | None, kind: CallKind) -> TokenSet:
        url = need(self.platform, self.e.token_url, "token")
        response = await send(self.platform, "POST", url, proxy=proxy, kind=kind, data=form, auth=self._basic())
        # Rotation: the answer always carries the new refresh token (with offline.access); None if it did not.
        return token_set(self.platform, json_body(self.platform, response))

    def _basic(self) -> tuple[str, str]:
        # Confidential clients authenticate with HTTP Basic on the token and revoke endpoints.
        return (self.e.client_id, self.e.client_secret)
