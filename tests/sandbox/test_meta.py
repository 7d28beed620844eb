"""Facebook, Instagram and Threads: Graph error shape, short-lived → long-lived exchange, no refresh tokens
(Facebook) or age-gated token refresh (Instagram/Threads)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox import SandboxConfig
from tests.sandbox.helpers import REDIRECT, make_client, redirect_query, with_platform

FB = SandboxConfig().facebook
IG = SandboxConfig().instagram
TH = SandboxConfig().threads


async def _fb_token(client: httpx.AsyncClient) -> dict[str, Any]:
    query = redirect_query(
        await client.get(
            "/facebook/v21.0/dialog/oauth",
            params={
                "client_id": FB.client_id,
                "redirect_uri": REDIRECT,
                "state": "s1",
                "scope": "pages_show_list,pages_manage_posts,pages_read_engagement",
            },
        )
    )
    response = await client.get(
        "/facebook/v21.0/oauth/access_token",
        params={
            "client_id": FB.client_id,
            "client_secret": FB.client_secret,
            "redirect_uri": REDIRECT,
            "code": query["code"],
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_facebook_round_trip_long_lived_and_page_tokens() -> None:
    async with make_client() as client:
        short = await _fb_token(client)
        assert short["token_type"] == "bearer"
        assert short["expires_in"] == 3600
        assert "refresh_token" not in short
        long = (
            await client.get(
                "/facebook/v21.0/oauth/access_token",
                params={
                    "grant_type": "fb_exchange_token",
                    "client_id": FB.client_id,
                    "client_secret": FB.client_secret,
                    "fb_exchange_token": short["access_token"],
                },
            )
        ).json()
        assert long["expires_in"] == 60 * 86400
        me = await client.get(
            "/facebook/v21.0/me", params={"fields": "id,name,picture", "access_token": long["access_token"]}
        )
        assert me.json()["id"] == FB.user.id
        assert me.json()["picture"]["data"]["url"] == FB.user.picture
        pages = (await client.get("/facebook/v21.0/me/accounts", params={"access_token": long["access_token"]})).json()
        page = pages["data"][0]
        assert page["id"] == FB.pages[0].id
        as_page = await client.get("/facebook/v21.0/me", headers={"Authorization": f"Bearer {page['access_token']}"})
        assert as_page.json() == {"id": FB.pages[0].id, "name": FB.pages[0].name}


async def test_facebook_code_reuse_expiry_and_revoke() -> None:
    async with make_client(with_platform("facebook", access_ttl_s=0)) as client:
        token = await _fb_token(client)
        expired = await client.get("/facebook/v21.0/me", params={"access_token": token["access_token"]})
        assert expired.status_code == 401
        assert expired.json()["error"]["code"] == 190
        assert expired.json()["error"]["error_subcode"] == 463
    async with make_client() as client:
        query = redirect_query(
            await client.get(
                "/facebook/v21.0/dialog/oauth",
                params={"client_id": FB.client_id, "redirect_uri": REDIRECT, "scope": "pages_show_list"},
            )
        )
        params = {
            "client_id": FB.client_id,
            "client_secret": FB.client_secret,
            "redirect_uri": REDIRECT,
            "code": query["code"],
        }
        ok = await client.get("/facebook/v21.0/oauth/access_token", params=params)
        reuse = await client.get("/facebook/v21.0/oauth/access_token", params=params)
        assert reuse.status_code == 400
        assert reuse.json()["error"]["type"] == "OAuthException"
        # RFC 6749 §4.1.2: a replayed code also revokes what it produced.
        replayed = await client.get("/facebook/v21.0/me", params={"access_token": ok.json()["access_token"]})
        assert replayed.status_code == 401
        token = (await _fb_token(client))["access_token"]
        assert (await client.delete("/facebook/v21.0/me/permissions", params={"access_token": token})).json() == {
            "success": True
        }
        revoked = await client.get("/facebook/v21.0/me", params={"access_token": token})
        assert revoked.status_code == 401
        assert revoked.json()["error"]["code"] == 190


@pytest.mark.parametrize(
    ("platform", "scope", "exchange", "refresh", "profile_path", "fields"),
    [
        (
            "instagram",
            "instagram_business_basic,instagram_business_content_publish",
            "ig_exchange_token",
            "ig_refresh_token",
            "/instagram/me",
            "user_id,username,name,profile_picture_url",
        ),
        (
            "threads",
            "threads_basic,threads_content_publish",
            "th_exchange_token",
            "th_refresh_token",
            "/threads/v1.0/me",
            "id,username,name,threads_profile_picture_url",
        ),
    ],
)
async def test_meta_login_round_trip_exchange_and_refresh(
    platform: str, scope: str, exchange: str, refresh: str, profile_path: str, fields: str
) -> None:
    cfg = SandboxConfig().platform(platform)
    async with make_client(with_platform(platform, min_refresh_age_s=0)) as client:
        response = await client.get(
            f"/{platform}/oauth/authorize",
            params={
                "client_id": cfg.client_id,
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": scope,
                "state": "z",
            },
        )
        query = redirect_query(response)
        form = {
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": query["code"],
        }
        short = await client.post(f"/{platform}/oauth/access_token", data=form)
        assert short.status_code == 200, short.text
        assert short.json()["user_id"] == cfg.user.id

        long = await client.get(
            f"/{platform}/access_token",
            params={
                "grant_type": exchange,
                "client_secret": cfg.client_secret,
                "access_token": short.json()["access_token"],
            },
        )
        assert long.json()["expires_in"] == 60 * 86400
        renewed = await client.get(
            f"/{platform}/refresh_access_token",
            params={"grant_type": refresh, "access_token": long.json()["access_token"]},
        )
        assert renewed.status_code == 200, renewed.text
        me = await client.get(profile_path, params={"fields": fields, "access_token": renewed.json()["access_token"]})
        assert me.status_code == 200
        assert me.json()["username"] == cfg.user.handle
        assert set(me.json()) == set(fields.split(","))
        reuse = await client.post(f"/{platform}/oauth/access_token", data=form)
        assert reuse.status_code == 400


async def test_instagram_rules_short_token_refresh_age_and_legacy_error_shape() -> None:
    async with make_client() as client:
        response = await client.get(
            "/instagram/oauth/authorize",
            params={
                "client_id": IG.client_id,
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": "instagram_business_basic",
            },
        )
        assert response.headers["location"].endswith("#_")
        code = redirect_query(response)["code"]
        form = {
            "client_id": IG.client_id,
            "client_secret": IG.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": "http://127.0.0.1:9/other",
            "code": code,
        }
        mismatch = await client.post("/instagram/oauth/access_token", data=form)
        assert mismatch.status_code == 400
        assert mismatch.json()["error_type"] == "OAuthException"
    async with make_client() as client:
        code = redirect_query(
            await client.get(
                "/instagram/oauth/authorize",
                params={
                    "client_id": IG.client_id,
                    "redirect_uri": REDIRECT,
                    "response_type": "code",
                    "scope": "instagram_business_basic",
                },
            )
        )["code"]
        form = {
            "client_id": IG.client_id,
            "client_secret": IG.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": code,
        }
        short = (await client.post("/instagram/oauth/access_token", data=form)).json()["access_token"]
        long = (
            await client.get(
                "/instagram/access_token",
                params={"grant_type": "ig_exchange_token", "client_secret": IG.client_secret, "access_token": short},
            )
        ).json()["access_token"]
        # A fresh long-lived token is younger than 24 h: Instagram refuses to refresh it.
        too_young = await client.get(
            "/instagram/refresh_access_token", params={"grant_type": "ig_refresh_token", "access_token": long}
        )
        assert too_young.status_code == 400
        assert too_young.json()["error"]["type"] == "OAuthException"


async def test_threads_expired_token_is_graph_190() -> None:
    async with make_client(with_platform("threads", access_ttl_s=0)) as client:
        code = redirect_query(
            await client.get(
                "/threads/oauth/authorize",
                params={
                    "client_id": TH.client_id,
                    "redirect_uri": REDIRECT,
                    "response_type": "code",
                    "scope": "threads_basic",
                },
            )
        )["code"]
        form = {
            "client_id": TH.client_id,
            "client_secret": TH.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": code,
        }
        token = (await client.post("/threads/oauth/access_token", data=form)).json()["access_token"]
        me = await client.get("/threads/v1.0/me", params={"access_token": token})
        assert me.status_code == 401
        assert me.json()["error"]["code"] == 190
