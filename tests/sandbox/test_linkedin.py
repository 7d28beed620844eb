"""LinkedIn: no PKCE, secrets in the form, non-rotating refresh tokens, serviceErrorCode on 401."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from sandbox import SandboxConfig
from sandbox.oauth import jwt_key
from tests.sandbox.helpers import REDIRECT, make_client, redirect_query, with_platform

CFG = SandboxConfig().linkedin
SCOPE = "openid profile email w_member_social"


async def _tokens(client: httpx.AsyncClient) -> dict[str, Any]:
    query = redirect_query(
        await client.get(
            "/linkedin/oauth/v2/authorization",
            params={
                "response_type": "code",
                "client_id": CFG.client_id,
                "redirect_uri": REDIRECT,
                "scope": SCOPE,
                "state": "abc",
            },
        )
    )
    assert query["state"] == "abc"
    response = await client.post(
        "/linkedin/oauth/v2/accessToken",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT,
            "client_id": CFG.client_id,
            "client_secret": CFG.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refresh(client: httpx.AsyncClient, token: object) -> httpx.Response:
    return await client.post(
        "/linkedin/oauth/v2/accessToken",
        data={
            "grant_type": "refresh_token",
            "refresh_token": str(token),
            "client_id": CFG.client_id,
            "client_secret": CFG.client_secret,
        },
    )


async def test_round_trip_and_userinfo() -> None:
    async with make_client() as client:
        tokens = await _tokens(client)
        assert tokens["expires_in"] == 60 * 86400
        assert tokens["refresh_token_expires_in"] == 365 * 86400
        assert tokens["scope"] == "openid,profile,email,w_member_social"
        claims = jwt.decode(
            str(tokens["id_token"]), jwt_key(CFG.client_secret), algorithms=["HS256"], audience=CFG.client_id
        )
        assert claims["sub"] == CFG.user.id
        info = await client.get("/linkedin/v2/userinfo", headers=_bearer(tokens["access_token"]))
        assert info.status_code == 200
        body = info.json()
        assert (body["sub"], body["name"], body["picture"], body["email"]) == (
            CFG.user.id,
            CFG.user.name,
            CFG.user.picture,
            CFG.user.email,
        )


async def test_refresh_token_is_not_rotated_and_works_twice() -> None:
    async with make_client() as client:
        tokens = await _tokens(client)
        first = await _refresh(client, tokens["refresh_token"])
        second = await _refresh(client, tokens["refresh_token"])
        assert first.status_code == second.status_code == 200
        assert first.json()["refresh_token"] == second.json()["refresh_token"] == tokens["refresh_token"]
        assert first.json()["access_token"] != second.json()["access_token"]
        for answer in (first, second):
            info = await client.get("/linkedin/v2/userinfo", headers=_bearer(answer.json()["access_token"]))
            assert info.status_code == 200


async def test_code_reuse_and_wrong_secret() -> None:
    async with make_client() as client:
        query = redirect_query(
            await client.get(
                "/linkedin/oauth/v2/authorization",
                params={"response_type": "code", "client_id": CFG.client_id, "redirect_uri": REDIRECT, "scope": SCOPE},
            )
        )
        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT,
            "client_id": CFG.client_id,
            "client_secret": "wrong",
        }
        assert (await client.post("/linkedin/oauth/v2/accessToken", data=form)).status_code == 401
        form["client_secret"] = CFG.client_secret
        assert (await client.post("/linkedin/oauth/v2/accessToken", data=form)).status_code == 200
        reuse = await client.post("/linkedin/oauth/v2/accessToken", data=form)
        assert reuse.status_code == 400
        assert reuse.json()["error"] == "invalid_grant"


async def test_expired_and_revoked_tokens_carry_service_error_codes() -> None:
    async with make_client(with_platform("linkedin", access_ttl_s=0)) as client:
        tokens = await _tokens(client)
        expired = await client.get("/linkedin/v2/userinfo", headers=_bearer(tokens["access_token"]))
        assert expired.status_code == 401
        assert expired.json()["serviceErrorCode"] == 65600
    async with make_client() as client:
        tokens = await _tokens(client)
        revoke = await client.post(
            "/linkedin/oauth/v2/revoke",
            data={"token": tokens["access_token"], "client_id": CFG.client_id, "client_secret": CFG.client_secret},
        )
        assert revoke.status_code == 200
        revoked = await client.get("/linkedin/v2/userinfo", headers=_bearer(tokens["access_token"]))
        assert revoked.status_code == 401
        assert revoked.json()["serviceErrorCode"] == 65601


async def test_bad_scope_redirects_with_error() -> None:
    async with make_client() as client:
        query = redirect_query(
            await client.get(
                "/linkedin/oauth/v2/authorization",
                params={
                    "response_type": "code",
                    "client_id": CFG.client_id,
                    "redirect_uri": REDIRECT,
                    "scope": "r_everything",
                    "state": "q",
                },
            )
        )
        assert query == {"error": "invalid_scope", "error_description": query["error_description"], "state": "q"}
