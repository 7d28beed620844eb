"""Bluesky (AT Protocol): no OAuth here. A session is opened with the account's app password (createSession) and
renewed with refreshSession, which rotates the refresh JWT. createSession is tightly limited (30 / 5 min): callers
keep the session and refresh it instead of logging in again."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from adapters.platforms.base import bearer, json_body, opt_str, require_str, send
from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import AuthorizationStart, PlatformProfile, ProxySpec, TokenSet
from domain.identity.platforms import Platform

_XRPC = "/xrpc/"


class BlueskyConnector:
    platform = Platform.BLUESKY
    uses_pkce = False

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints  # api_base is the PDS (https://bsky.social for most accounts)

    @property
    def service(self) -> str:
        return self.e.api_base.rstrip("/")

    def at_service(self, api_base: str) -> BlueskyConnector:
        """A connector for an account on another PDS (self-hosted, or a PDS other than the default one)."""
        return BlueskyConnector(replace(self.e, api_base=api_base.rstrip("/")))

    def start_authorization(self, *, state: str, redirect_uri: str) -> AuthorizationStart:
        raise NotImplementedError(
            "Bluesky is connected with a handle and an app password: use BlueskyConnector.create_session()"
        )

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, proxy: ProxySpec | None
    ) -> TokenSet:
        raise NotImplementedError("Bluesky has no OAuth code here: use BlueskyConnector.create_session()")

    async def create_session(
        self, identifier: str, app_password: str, proxy: ProxySpec | None
    ) -> tuple[TokenSet, PlatformProfile]:
        """Log in with a handle/DID/e-mail and an app password (a wrong one → InvalidRequest)."""
        response = await send(
            self.platform,
            "POST",
            self._xrpc("com.atproto.server.createSession"),
            proxy=proxy,
            kind="token",
            json={"identifier": identifier, "password": app_password},
        )
        tokens = self._session(json_body(self.platform, response))
        return tokens, await self.profile(access_token=tokens.access_token, proxy=proxy)

    async def refresh(self, *, refresh_token: str, proxy: ProxySpec | None) -> TokenSet:
        # The refresh JWT is the bearer; the answer carries a new pair and the old refresh JWT is spent.
        response = await send(
            self.platform,
            "POST",
            self._xrpc("com.atproto.server.refreshSession"),
            proxy=proxy,
            kind="refresh",
            headers=bearer(refresh_token),
        )
        return self._session(json_body(self.platform, response))

    async def revoke(self, *, token: str, proxy: ProxySpec | None) -> None:
        """`token` must be the session's refresh JWT: deleteSession ends the whole session, access JWT included."""
        await send(
            self.platform,
            "POST",
            self._xrpc("com.atproto.server.deleteSession"),
            proxy=proxy,
            headers=bearer(token),
        )

    async def profile(self, *, access_token: str, proxy: ProxySpec | None) -> PlatformProfile:
        auth = bearer(access_token)
        session = await send(
            self.platform, "GET", self._xrpc("com.atproto.server.getSession"), proxy=proxy, headers=auth
        )
        did = require_str(self.platform, json_body(self.platform, session), "did")
        response = await send(
            self.platform,
            "GET",
            self._xrpc("app.bsky.actor.getProfile"),
            proxy=proxy,
            headers=auth,
            params={"actor": did},
        )
        data = json_body(self.platform, response)
        return PlatformProfile(
            internal_id=did,  # the DID survives handle changes
            name=str(data.get("displayName") or data.get("handle") or ""),
            handle=opt_str(data.get("handle")),
            picture=opt_str(data.get("avatar")),
        )

    def _xrpc(self, method: str) -> str:
        return f"{self.e.api_base}{_XRPC}{method}"

    def _session(self, data: dict[str, Any]) -> TokenSet:
        access = require_str(self.platform, data, "accessJwt")
        return TokenSet(
            access_token=access,
            refresh_token=require_str(self.platform, data, "refreshJwt"),
            # The session answer has no expires_in; the access JWT's own exp claim says when it runs out.
            expires_at=_jwt_exp(access),
        )


def _jwt_exp(token: str) -> datetime | None:
    """The unverified `exp` claim, only to schedule a refresh (the PDS is the one that verifies)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None
