"""TikTok: client_key, comma scopes, rotating refresh tokens, `{"data", "error": {"code": "ok"}}` envelope."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox import SandboxConfig
from tests.sandbox.helpers import REDIRECT, make_client, redirect_query, with_platform

CFG = SandboxConfig().tiktok
SECRETS = {"client_key": CFG.client_id, "client_secret": CFG.client_secret}


async def _tokens(client: httpx.AsyncClient) -> dict[str, Any]:
    query = redirect_query(
        await client.get(
            "/tiktok/v2/auth/authorize/",
            params={
                "client_key": CFG.client_id,
                "response_type": "code",
                "scope": "user.info.basic,video.publish",
                "redirect_uri": REDIRECT,
                "state": "tt",
            },
        )
    )
    form = {**SECRETS, "code": query["code"], "grant_type": "authorization_code", "redirect_uri": REDIRECT}
    response = await client.post("/tiktok/v2/oauth/token/", data=form)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _info(client: httpx.AsyncClient, token: object) -> httpx.Response:
    return await client.get(
        "/tiktok/v2/user/info/",
        params={"fields": "open_id,avatar_url,display_name,username"},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_round_trip_and_user_info() -> None:
    async with make_client() as client:
        tokens = await _tokens(client)
        assert tokens["open_id"] == CFG.user.id
        assert tokens["scope"] == "user.info.basic,video.publish"
        assert tokens["expires_in"] == 86400
        assert tokens["refresh_expires_in"] == 365 * 86400
        info = await _info(client, tokens["access_token"])
        assert info.json()["error"]["code"] == "ok"
        assert info.json()["data"]["user"] == {
            "open_id": CFG.user.id,
            "avatar_url": CFG.user.picture,
            "display_name": CFG.user.name,
            "username": CFG.user.handle,
        }


async def test_refresh_rotates() -> None:
    async with make_client() as client:
        tokens = await _tokens(client)
        form = {**SECRETS, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        first = await client.post("/tiktok/v2/oauth/token/", data=form)
        assert first.status_code == 200
        assert first.json()["refresh_token"] != tokens["refresh_token"]
        again = await client.post("/tiktok/v2/oauth/token/", data=form)
        assert again.status_code == 400
        assert again.json()["error"] == "invalid_grant"
        # Unlike X, the new family members keep working after a stale refresh attempt.
        assert (await _info(client, first.json()["access_token"])).status_code == 200


async def test_expired_and_revoked_access_token() -> None:
    async with make_client(with_platform("tiktok", access_ttl_s=0)) as client:
        expired = await _info(client, (await _tokens(client))["access_token"])
        assert expired.status_code == 401
        assert expired.json()["error"]["code"] == "access_token_invalid"
    async with make_client() as client:
        tokens = await _tokens(client)
        revoke = await client.post("/tiktok/v2/oauth/revoke/", data={**SECRETS, "token": tokens["access_token"]})
        assert revoke.status_code == 200
        assert (await _info(client, tokens["access_token"])).status_code == 401


async def test_code_reuse_fails() -> None:
    async with make_client() as client:
        query = redirect_query(
            await client.get(
                "/tiktok/v2/auth/authorize/",
                params={
                    "client_key": CFG.client_id,
                    "response_type": "code",
                    "scope": "user.info.basic",
                    "redirect_uri": REDIRECT,
                },
            )
        )
        form = {**SECRETS, "code": query["code"], "grant_type": "authorization_code", "redirect_uri": REDIRECT}
        assert (await client.post("/tiktok/v2/oauth/token/", data=form)).status_code == 200
        reuse = await client.post("/tiktok/v2/oauth/token/", data=form)
        assert reuse.status_code == 400
        assert reuse.json()["error"] == "invalid_grant"
