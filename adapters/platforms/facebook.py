"""Facebook Pages: the connected channel is a Page, not the person who logged in.

Flow: code → short-lived user token → `fb_exchange_token` → ~60-day user token → `GET /me/accounts` → the page's own
token, which does not expire (it dies with the user's grant). Choice: `exchange_code` returns the token of the page
configured as `page_id`; without one it takes the user's only page and refuses (InvalidRequest) when there are several,
so a UI offering a choice calls `exchange_user_token` + `pages()` itself instead of us guessing."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from adapters.platforms.base import bearer, json_body, need, opt_str, require_str, send, token_set
from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import (
    AuthorizationStart,
    AuthRevoked,
    InvalidRequest,
    PlatformProfile,
    ProxySpec,
    TokenSet,
)
from domain.identity.platforms import Platform


@dataclass(frozen=True)
class FacebookPage:
    id: str
    name: str
    access_token: str

    def __repr__(self) -> str:
        return f"FacebookPage(id={self.id!r}, name={self.name!r})"


class FacebookConnector:
    platform = Platform.FACEBOOK
    uses_pkce = False

    def __init__(self, endpoints: PlatformEndpoints, *, page_id: str | None = None) -> None:
        self.e = endpoints
        self.page_id = page_id

    @property
    def _graph(self) -> str:
        return f"{self.e.api_base}/{self.e.graph_version}"

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
        user = await self.exchange_user_token(code=code, redirect_uri=redirect_uri, proxy=proxy)
        page = self._choose(await self.pages(user_access_token=user.access_token, proxy=proxy))
        # Page tokens from a long-lived user token do not expire; there is no refresh token at all.
        return TokenSet(access_token=page.access_token, refresh_token=None, expires_at=None, scope=user.scope)

    async def exchange_user_token(self, *, code: str, redirect_uri: str, proxy: ProxySpec | None) -> TokenSet:
        """The ~60-day user token (code → short-lived → fb_exchange_token)."""
        url = need(self.platform, self.e.token_url, "token")
        client = {"client_id": self.e.client_id, "client_secret": self.e.client_secret}
        short = await send(
            self.platform,
            "GET",
            url,
            proxy=proxy,
            kind="token",
            params={**client, "redirect_uri": redirect_uri, "code": code},
        )
        short_token = require_str(self.platform, json_body(self.platform, short), "access_token")
        long = await send(
            self.platform,
            "GET",
            url,
            proxy=proxy,
            kind="token",
            params={**client, "grant_type": "fb_exchange_token", "fb_exchange_token": short_token},
        )
        return token_set(self.platform, json_body(self.platform, long))

    async def pages(self, *, user_access_token: str, proxy: ProxySpec | None) -> list[FacebookPage]:
        """The pages this user manages, each with its page token."""
        response = await send(
            self.platform,
            "GET",
            f"{self._graph}/me/accounts",
            proxy=proxy,
            params={"fields": "id,name,access_token"},
            headers=bearer(user_access_token),
        )
        entries = json_body(self.platform, response).get("data") or []
        return [
            FacebookPage(
                id=require_str(self.platform, e, "id"),
                name=str(e.get("name") or ""),
                access_token=require_str(self.platform, e, "access_token"),
            )
            for e in entries
            if isinstance(e, dict)
        ]

    def _choose(self, pages: list[FacebookPage]) -> FacebookPage:
        if self.page_id is not None:
            for page in pages:
                if page.id == self.page_id:
                    return page
            raise InvalidRequest(f"facebook: the user does not manage page {self.page_id}")
        if len(pages) == 1:
            return pages[0]
        if not pages:
            raise InvalidRequest("facebook: the user manages no page (or did not grant pages_show_list)")
        raise InvalidRequest(f"facebook: the user manages {len(pages)} pages; choose one with pages()")

    async def refresh(self, *, refresh_token: str, proxy: ProxySpec | None) -> TokenSet:
        # Nothing to refresh: page tokens never expire, so a refused one means the grant is gone.
        raise AuthRevoked("facebook: page tokens have no refresh; reconnect the page")

    async def revoke(self, *, token: str, proxy: ProxySpec | None) -> None:
        # DELETE /me/permissions removes the app's whole grant, page tokens included.
        url = need(self.platform, self.e.revoke_url, "revoke")
        await send(self.platform, "DELETE", url, proxy=proxy, headers=bearer(token))

    async def profile(self, *, access_token: str, proxy: ProxySpec | None) -> PlatformProfile:
        response = await send(
            self.platform,
            "GET",
            f"{self._graph}/me",
            proxy=proxy,
            params={"fields": "id,name,picture"},
            headers=bearer(access_token),
        )
        data = json_body(self.platform, response)
        picture = ((data.get("picture") or {}).get("data") or {}).get("url")
        return PlatformProfile(
            internal_id=require_str(self.platform, data, "id"),
            name=str(data.get("name") or ""),
            handle=None,  # /me as a page answers no username unless the page set a vanity URL
            picture=opt_str(picture),
        )
