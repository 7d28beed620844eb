"""X: PKCE-required OAuth, Basic client auth, single-use rotating refresh tokens, x-rate-limit-* headers."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox import SandboxConfig
from tests.sandbox.helpers import REDIRECT, location_base, make_client, pkce_pair, redirect_query, with_platform

CFG = SandboxConfig().x
AUTH = (CFG.client_id, CFG.client_secret)
SCOPE = "tweet.read tweet.write users.read offline.access"


async def _code(client: httpx.AsyncClient, challenge: str, scope: str = SCOPE) -> str:
    response = await client.get(
        "/x/i/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": CFG.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "st-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    query = redirect_query(response)
    assert location_base(response) == REDIRECT
    assert query["state"] == "st-1"
    return query["code"]


async def _tokens(client: httpx.AsyncClient, scope: str = SCOPE) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    code = await _code(client, challenge, scope)
    response = await client.post(
        "/x/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        auth=AUTH,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _refresh(client: httpx.AsyncClient, token: object) -> httpx.Response:
    return await client.post(
        "/x/2/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": str(token)}, auth=AUTH
    )


async def _me(client: httpx.AsyncClient, token: object) -> httpx.Response:
    return await client.get(
        "/x/2/users/me", params={"user.fields": "profile_image_url"}, headers={"Authorization": f"Bearer {token}"}
    )


async def test_round_trip_with_pkce() -> None:
    async with make_client() as client:
        tokens = await _tokens(client)
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 7200
        assert tokens["scope"] == SCOPE
        assert tokens["refresh_token"]
        me = await _me(client, tokens["access_token"])
        assert me.status_code == 200
        assert me.json() == {
            "data": {
                "id": CFG.user.id,
                "name": CFG.user.name,
                "username": CFG.user.handle,
                "profile_image_url": CFG.user.picture,
            }
        }


async def test_no_refresh_token_without_offline_access() -> None:
    async with make_client() as client:
        tokens = await _tokens(client, "tweet.read users.read")
        assert "refresh_token" not in tokens


async def test_authorize_requires_pkce_and_known_client() -> None:
    async with make_client() as client:
        base = {
            "response_type": "code",
            "client_id": CFG.client_id,
            "redirect_uri": REDIRECT,
            "scope": SCOPE,
            "state": "s",
        }
        missing = redirect_query(await client.get("/x/i/oauth2/authorize", params=base))
        assert missing["error"] == "invalid_request"
        assert missing["state"] == "s"
        bad_client = await client.get("/x/i/oauth2/authorize", params={**base, "client_id": "nope"})
        assert bad_client.status_code == 400
        bad_redirect = await client.get(
            "/x/i/oauth2/authorize", params={**base, "redirect_uri": "https://evil.example/cb"}
        )
        assert bad_redirect.status_code == 400
        assert "location" not in bad_redirect.headers


async def test_wrong_verifier_is_invalid_grant_and_code_is_single_use() -> None:
    async with make_client() as client:
        verifier, challenge = pkce_pair()
        code = await _code(client, challenge)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        wrong = await client.post("/x/2/oauth2/token", data={**form, "code_verifier": "x" * 43}, auth=AUTH)
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"
        # The failed attempt consumed the code, as the code is single use.
        again = await client.post("/x/2/oauth2/token", data={**form, "code_verifier": verifier}, auth=AUTH)
        assert again.status_code == 400
        assert again.json()["error"] == "invalid_grant"


async def test_code_reuse_fails_and_revokes_issued_tokens() -> None:
    async with make_client() as client:
        verifier, challenge = pkce_pair()
        code = await _code(client, challenge)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
        first = await client.post("/x/2/oauth2/token", data=form, auth=AUTH)
        assert first.status_code == 200
        reuse = await client.post("/x/2/oauth2/token", data=form, auth=AUTH)
        assert reuse.status_code == 400
        assert reuse.json()["error"] == "invalid_grant"
        assert (await _me(client, first.json()["access_token"])).status_code == 401


async def test_confidential_client_needs_basic_auth_and_form_body() -> None:
    async with make_client() as client:
        no_auth = await client.post("/x/2/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": "r"})
        assert no_auth.status_code == 401
        as_json = await client.post("/x/2/oauth2/token", json={"grant_type": "refresh_token"}, auth=AUTH)
        assert as_json.status_code == 400
        assert as_json.json()["error"] == "invalid_request"


async def test_refresh_rotates_and_reuse_revokes_the_family() -> None:
    async with make_client() as client:
        tokens = await _tokens(client)
        first = await _refresh(client, tokens["refresh_token"])
        assert first.status_code == 200
        rotated = first.json()
        assert rotated["refresh_token"] != tokens["refresh_token"]
        assert (await _me(client, rotated["access_token"])).status_code == 200

        reuse = await _refresh(client, tokens["refresh_token"])
        assert reuse.status_code == 400
        assert reuse.json()["error"] == "invalid_request"
        # Reuse of a spent refresh token kills the whole family: the newest tokens too.
        assert (await _refresh(client, rotated["refresh_token"])).status_code == 400
        assert (await _me(client, rotated["access_token"])).status_code == 401


async def test_expired_access_token_is_401_and_refresh_recovers() -> None:
    async with make_client(with_platform("x", access_ttl_s=0)) as client:
        tokens = await _tokens(client)
        assert tokens["expires_in"] == 0
        expired = await _me(client, tokens["access_token"])
        assert expired.status_code == 401
        assert expired.json()["title"] == "Unauthorized"


async def test_revoke_then_profile_is_401() -> None:
    async with make_client() as client:
        tokens = await _tokens(client)
        revoked = await client.post(
            "/x/2/oauth2/revoke", data={"token": tokens["access_token"], "token_type_hint": "access_token"}, auth=AUTH
        )
        assert revoked.json() == {"revoked": True}
        assert (await _me(client, tokens["access_token"])).status_code == 401
        assert (await _refresh(client, tokens["refresh_token"])).status_code == 400


async def test_profile_image_only_when_requested() -> None:
    async with make_client() as client:
        tokens = await _tokens(client)
        me = await client.get("/x/2/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert "profile_image_url" not in me.json()["data"]
