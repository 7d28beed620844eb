"""Control API: faults in each platform's dialect, the request log with real peers, reset."""

from __future__ import annotations

import json
import time
from datetime import datetime

import httpx
import pytest

from sandbox import SandboxConfig
from tests.sandbox.helpers import REDIRECT, make_client, redirect_query

CFG = SandboxConfig()

# One cheap request per platform: (method, path, json body).
PROBES: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "x": ("GET", "/x/2/users/me", None),
    "linkedin": ("GET", "/linkedin/v2/userinfo", None),
    "facebook": ("GET", "/facebook/v21.0/me", None),
    "instagram": ("GET", "/instagram/me", None),
    "tiktok": ("GET", "/tiktok/v2/user/info/", None),
    "threads": ("GET", "/threads/v1.0/me", None),
    "bluesky": ("POST", "/bluesky/xrpc/com.atproto.server.createSession", {"identifier": "a", "password": "b"}),
    "mastodon": ("GET", "/mastodon/api/v1/accounts/verify_credentials", None),
}


async def _probe(client: httpx.AsyncClient, platform: str) -> httpx.Response:
    method, path, body = PROBES[platform]
    return await client.request(method, path, json=body)


async def _fault(client: httpx.AsyncClient, **spec: object) -> None:
    response = await client.post("/_sandbox/faults", json=spec)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("platform", sorted(PROBES))
async def test_rate_limit_uses_the_platform_dialect(platform: str) -> None:
    async with make_client() as client:
        await _fault(client, platform=platform, endpoint="*", kind="rate_limit", retry_after_s=120)
        limited = await _probe(client, platform)
        assert limited.status_code == 429
        headers = limited.headers
        assert "retry-after" not in headers
        now = time.time()
        if platform == "x":
            assert headers["x-rate-limit-remaining"] == "0"
            assert int(headers["x-rate-limit-limit"]) > 0
            assert abs(int(headers["x-rate-limit-reset"]) - (now + 120)) <= 2
        elif platform == "mastodon":
            assert headers["x-ratelimit-remaining"] == "0"
            reset = datetime.fromisoformat(headers["x-ratelimit-reset"].replace("Z", "+00:00"))
            assert abs(reset.timestamp() - (now + 120)) <= 2
        elif platform == "bluesky":
            assert headers["ratelimit-remaining"] == "0"
            assert abs(int(headers["ratelimit-reset"]) - (now + 120)) <= 2
            assert headers["ratelimit-policy"] == "30;w=300"
        elif platform in {"facebook", "instagram", "threads"}:
            assert json.loads(headers["x-app-usage"])["call_count"] == 100
            buc = json.loads(headers["x-business-use-case-usage"])
            assert next(iter(buc.values()))[0]["estimated_time_to_regain_access"] == 2
            assert limited.json()["error"]["code"] == 4
        elif platform == "tiktok":
            assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        else:  # LinkedIn sends no rate-limit headers at all
            assert not [h for h in headers if "rate" in h.lower()]
        # count=1: the next request is answered normally (an auth error here, as no token was sent).
        assert (await _probe(client, platform)).status_code != 429


async def test_fault_matches_endpoint_name_and_path_glob_and_count() -> None:
    async with make_client() as client:
        await _fault(client, platform="x", endpoint="/2/users/*", kind="server_error", status=503, count=2)
        await _fault(client, platform="x", endpoint="token", kind="rate_limit")
        assert (await _probe(client, "x")).status_code == 503
        assert (await _probe(client, "x")).status_code == 503
        assert (await _probe(client, "x")).status_code == 401
        token = await client.post("/x/2/oauth2/token", data={"grant_type": "refresh_token"})
        assert token.status_code == 429
        assert (await client.get("/_sandbox/faults")).json() == {"faults": []}


async def test_slow_and_duplicate_faults() -> None:
    async with make_client() as client:
        await _fault(client, platform="mastodon", endpoint="*", kind="slow", delay_s=0.2)
        await _fault(client, platform="mastodon", endpoint="/api/v1/statuses", kind="duplicate")
        started = time.monotonic()
        await _probe(client, "mastodon")
        assert time.monotonic() - started >= 0.2
        # duplicate is held for the publishing side, untouched by connection endpoints.
        faults = (await client.get("/_sandbox/faults")).json()["faults"]
        assert [f["kind"] for f in faults] == ["duplicate"]
        bad = await client.post("/_sandbox/faults", json={"platform": "myspace", "kind": "slow"})
        assert bad.status_code == 422


async def _linkedin_token(client: httpx.AsyncClient) -> str:
    li = CFG.linkedin
    code = redirect_query(
        await client.get(
            "/linkedin/oauth/v2/authorization",
            params={"response_type": "code", "client_id": li.client_id, "redirect_uri": REDIRECT, "scope": "openid"},
        )
    )["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": li.client_id,
        "client_secret": li.client_secret,
    }
    token: str = (await client.post("/linkedin/oauth/v2/accessToken", data=form)).json()["access_token"]
    return token


async def test_expire_and_revoke_token_faults() -> None:
    async with make_client() as client:
        token = await _linkedin_token(client)
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/linkedin/v2/userinfo", headers=auth)).status_code == 200
        await _fault(client, platform="linkedin", endpoint="profile", kind="expire_token")
        expired = await client.get("/linkedin/v2/userinfo", headers=auth)
        assert expired.status_code == 401
        assert expired.json()["serviceErrorCode"] == 65600
        # The token really expired: it stays refused after the fault is spent.
        assert (await client.get("/linkedin/v2/userinfo", headers=auth)).status_code == 401

        token = await _linkedin_token(client)
        await _fault(client, platform="linkedin", endpoint="*", kind="revoke_token")
        revoked = await client.get("/linkedin/v2/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert revoked.json()["serviceErrorCode"] == 65601


async def test_request_log_records_the_socket_peer_not_forwarded_for() -> None:
    async with make_client(peer=("10.9.8.7", 41234)) as client:
        await client.get("/x/2/users/me", headers={"X-Forwarded-For": "203.0.113.5"})
        await _probe(client, "mastodon")
        log = (await client.get("/_sandbox/requests", params={"platform": "x"})).json()["requests"]
        assert len(log) == 1
        entry = log[0]
        assert (entry["method"], entry["path"], entry["platform"], entry["endpoint"]) == (
            "GET",
            "/x/2/users/me",
            "x",
            "profile",
        )
        assert (entry["peer_host"], entry["peer_port"]) == ("10.9.8.7", 41234)
        assert entry["forwarded_for"] == "203.0.113.5"
        assert entry["status"] == 401
        assert abs(entry["timestamp"] - time.time()) < 5
        everything = (await client.get("/_sandbox/requests")).json()["requests"]
        assert {e["platform"] for e in everything} == {"x", "mastodon"}

        await client.post("/_sandbox/reset")
        assert (await client.get("/_sandbox/requests")).json() == {"requests": []}


async def test_reset_clears_tokens() -> None:
    async with make_client() as client:
        token = await _linkedin_token(client)
        await client.post("/_sandbox/reset")
        after = await client.get("/linkedin/v2/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert after.status_code == 401
