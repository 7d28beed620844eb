"""Bluesky: app-password sessions, rotating refresh JWT, 400 ExpiredToken vs 401 InvalidToken."""

from __future__ import annotations

import httpx
import jwt

from sandbox import SandboxConfig
from tests.sandbox.helpers import make_client, with_platform

CFG = SandboxConfig().bluesky
XRPC = "/bluesky/xrpc"


async def _session(client: httpx.AsyncClient, identifier: str | None = None) -> dict[str, str]:
    response = await client.post(
        f"{XRPC}/com.atproto.server.createSession",
        json={"identifier": identifier or CFG.user.handle, "password": CFG.app_password},
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_create_session_and_profile() -> None:
    async with make_client() as client:
        session = await _session(client)
        assert session["did"] == CFG.user.id
        assert session["handle"] == CFG.user.handle
        claims = jwt.decode(session["accessJwt"], options={"verify_signature": False})
        assert claims["scope"] == "com.atproto.access"
        assert claims["exp"] - claims["iat"] == 7200
        profile = await client.get(
            f"{XRPC}/app.bsky.actor.getProfile",
            params={"actor": CFG.user.handle},
            headers=_bearer(session["accessJwt"]),
        )
        assert profile.json()["displayName"] == CFG.user.name
        assert profile.json()["avatar"] == CFG.user.picture
        by_did = await _session(client, CFG.user.id)
        assert by_did["did"] == CFG.user.id


async def test_wrong_password_is_401() -> None:
    async with make_client() as client:
        response = await client.post(
            f"{XRPC}/com.atproto.server.createSession", json={"identifier": CFG.user.handle, "password": "nope"}
        )
        assert response.status_code == 401
        assert response.json()["error"] == "AuthenticationRequired"


async def test_refresh_session_rotates_refresh_jwt() -> None:
    async with make_client() as client:
        session = await _session(client)
        refreshed = await client.post(
            f"{XRPC}/com.atproto.server.refreshSession", headers=_bearer(session["refreshJwt"])
        )
        assert refreshed.status_code == 200
        assert refreshed.json()["refreshJwt"] != session["refreshJwt"]
        stale = await client.post(f"{XRPC}/com.atproto.server.refreshSession", headers=_bearer(session["refreshJwt"]))
        assert stale.status_code == 400
        assert stale.json()["error"] == "ExpiredToken"
        wrong_type = await client.post(
            f"{XRPC}/com.atproto.server.refreshSession", headers=_bearer(refreshed.json()["accessJwt"])
        )
        assert wrong_type.json()["error"] == "InvalidToken"


async def test_expired_access_is_400_expired_token_then_refresh() -> None:
    async with make_client(with_platform("bluesky", access_ttl_s=0)) as client:
        session = await _session(client)
        expired = await client.get(f"{XRPC}/com.atproto.server.getSession", headers=_bearer(session["accessJwt"]))
        assert expired.status_code == 400
        assert expired.json()["error"] == "ExpiredToken"


async def test_delete_session_revokes() -> None:
    async with make_client() as client:
        session = await _session(client)
        deleted = await client.post(f"{XRPC}/com.atproto.server.deleteSession", headers=_bearer(session["refreshJwt"]))
        assert deleted.status_code == 200
        after = await client.get(f"{XRPC}/com.atproto.server.getSession", headers=_bearer(session["accessJwt"]))
        assert after.status_code == 401
        assert after.json()["error"] == "InvalidToken"
