"""Mastodon: per-instance app registration, OAuth with optional PKCE S256, non-expiring tokens, revoke."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox import SandboxConfig
from tests.sandbox.helpers import REDIRECT, location_base, make_client, pkce_pair, redirect_query

CFG = SandboxConfig().mastodon
SCOPE = "read:accounts write:statuses write:media"


async def _app(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(
        "/mastodon/api/v1/apps",
        data={"client_name": "Souls", "redirect_uris": REDIRECT, "scopes": "read write", "website": "https://x.test"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _code(client: httpx.AsyncClient, app: dict[str, Any], challenge: str | None = None) -> str:
    params = {
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
        "state": "m",
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    response = await client.get("/mastodon/oauth/authorize", params=params)
    assert location_base(response) == REDIRECT
    return redirect_query(response)["code"]


def _form(app: dict[str, Any], code: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "redirect_uri": REDIRECT,
        **extra,
    }


async def _verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(
        "/mastodon/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"}
    )


async def test_register_app() -> None:
    async with make_client() as client:
        app = await _app(client)
        assert app["client_id"]
        assert app["client_secret"]
        assert app["redirect_uris"] == [REDIRECT]
        assert app["scopes"] == ["read", "write"]
        invalid = await client.post("/mastodon/api/v1/apps", json={"client_name": ""})
        assert invalid.status_code == 422


async def test_round_trip_with_pkce_and_json_body() -> None:
    async with make_client() as client:
        app = await _app(client)
        verifier, challenge = pkce_pair()
        code = await _code(client, app, challenge)
        token = await client.post("/mastodon/oauth/token", json=_form(app, code, code_verifier=verifier))
        assert token.status_code == 200, token.text
        body = token.json()
        assert body["token_type"] == "Bearer"
        assert body["scope"] == SCOPE
        assert "expires_in" not in body
        assert "refresh_token" not in body
        account = await _verify(client, body["access_token"])
        assert account.status_code == 200
        assert (account.json()["username"], account.json()["display_name"], account.json()["avatar"]) == (
            CFG.user.handle,
            CFG.user.name,
            CFG.user.picture,
        )


async def test_wrong_verifier_and_code_reuse() -> None:
    async with make_client() as client:
        app = await _app(client)
        _, challenge = pkce_pair()
        code = await _code(client, app, challenge)
        wrong = await client.post("/mastodon/oauth/token", data=_form(app, code, code_verifier="nope" * 12))
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"
        plain = await _code(client, app)
        assert (await client.post("/mastodon/oauth/token", data=_form(app, plain))).status_code == 200
        reuse = await client.post("/mastodon/oauth/token", data=_form(app, plain))
        assert reuse.json()["error"] == "invalid_grant"


async def test_unknown_client_redirect_and_scope() -> None:
    async with make_client() as client:
        app = await _app(client)
        base = {"client_id": app["client_id"], "redirect_uri": REDIRECT, "response_type": "code", "scope": "read"}
        unknown = await client.get("/mastodon/oauth/authorize", params={**base, "client_id": "nope"})
        assert unknown.status_code == 400
        other = await client.get("/mastodon/oauth/authorize", params={**base, "redirect_uri": "http://127.0.0.1:1/x"})
        assert other.status_code == 400
        scope = redirect_query(await client.get("/mastodon/oauth/authorize", params={**base, "scope": "follow"}))
        assert scope["error"] == "invalid_scope"


async def test_revoke_then_verify_is_401() -> None:
    async with make_client() as client:
        app = await _app(client)
        token = (await client.post("/mastodon/oauth/token", data=_form(app, await _code(client, app)))).json()
        revoke = await client.post(
            "/mastodon/oauth/revoke",
            data={"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token["access_token"]},
        )
        assert revoke.json() == {}
        after = await _verify(client, token["access_token"])
        assert after.status_code == 401
        assert after.json() == {"error": "The access token was revoked"}
