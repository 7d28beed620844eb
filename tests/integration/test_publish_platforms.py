"""Each of the eight platforms end to end at the workflow level: connect the channel through the API (OAuth, Bluesky's
app password, Mastodon's per-instance app) through the account's proxy, post text and media through `/axon/posts`,
let the real workers on a real Temporal dev server publish, and check what the platform (the sandbox) holds and
which process every request came from.

The matrix runs on SQLite; one platform (Mastodon, the one with the most of our own state: its instance's app) also
runs on PostgreSQL, which would otherwise double the time without exercising anything else."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from domain.identity.platforms import Platform
from tests.conftest import ApiFactory
from tests.integration.peer_watch import watching
from tests.integration.publishing_desk import Desk, desk_settings, running_workers
from tests.platforms.conftest import BLUESKY_APP_PASSWORD, BLUESKY_HANDLE, Sandbox, browser_step
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.proxies import PproxyServer

sandbox_server = _sandbox_server

# Account handles that are not the sandbox user's, so auto-link leaves the explicit link below to the test.
HANDLES = {
    Platform.X: "brandx",
    Platform.LINKEDIN: "brand-linkedin",
    Platform.FACEBOOK: "brand.facebook",
    Platform.INSTAGRAM: "brand.instagram",
    Platform.TIKTOK: "brand.tiktok",
    Platform.THREADS: "brand.threads",
    Platform.BLUESKY: "brand.bsky.social",
    Platform.MASTODON: "brand@mastodon.example",
}
# TikTok posts a video (domain/publishing/limits.py); Instagram takes JPEG only; JPEG suits every other one too.
MEDIA = {Platform.TIKTOK: ("sample.mp4", "video")}
# Half the platforms go through the SOCKS5 proxy, half through the HTTP one. X's multipart media upload goes through
# SOCKS5: pproxy's HTTP proxy drops about one in twenty multipart requests that the sandbox's `slow` fault holds
# (a retry then publishes, but the dropped request leaves a connection the watch never saw).
SOCKS = {Platform.X, Platform.INSTAGRAM, Platform.THREADS, Platform.MASTODON}
# The request that creates the post, which must be among those proven to come from the proxy.
CREATES = {
    Platform.X: "create_tweet",
    Platform.LINKEDIN: "create_post",
    Platform.FACEBOOK: "create_photo",
    Platform.INSTAGRAM: "media_publish",
    Platform.TIKTOK: "video_init",
    Platform.THREADS: "publish",
    Platform.BLUESKY: "create_record",
    Platform.MASTODON: "create_status",
}
CASES = [pytest.param(p, "sqlite", id=f"sqlite-{p.value}") for p in Platform] + [
    pytest.param(Platform.MASTODON, "postgres", id="postgres-mastodon")
]


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
async def desk(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str
) -> AsyncIterator[Desk]:
    # The platforms' activity rates (TikTok: one every 10 s) would make this test wait on the server's rate limiter,
    # which is not what it checks.
    rates = {p.value: 50.0 for p in Platform}
    api = await api_factory(
        **desk_settings(sandbox, task_queue), frontend_url="http://localhost:3000", platform_rate_per_s=rates
    )
    h = (await api.register())["headers"]
    async with running_workers(api, temporal_client):
        yield Desk(api, h, sandbox, temporal_client)


async def _connect(desk: Desk, platform: Platform, account_id: str) -> str:
    """Connect the channel through the API, through the account's proxy; the integration's id."""
    http, h = desk.api.http, desk.h
    if platform == Platform.BLUESKY:
        body = {"identifier": BLUESKY_HANDLE, "appPassword": desk.api.secret(BLUESKY_APP_PASSWORD),
                "accountId": account_id}  # fmt: skip
        connected = await http.post("/integrations/social/bluesky/connect", json=body, headers=h)
    else:
        params = {"accountId": account_id}
        if platform == Platform.MASTODON:
            params["instance"] = f"{desk.sandbox.url}/mastodon"
        start = await http.get(f"/integrations/social/{platform.value}", params=params, headers=h)
        assert start.status_code == 200, start.text
        redirect = browser_step(start.json()["url"])
        connected = await http.post(f"/integrations/social/{platform.value}/connect", json=redirect, headers=h)
    assert connected.status_code == 200, connected.text
    integration_id: str = connected.json()["id"]
    return integration_id


@pytest.mark.parametrize(("platform", "database_url"), CASES, indirect=["database_url"])
async def test_a_post_with_media_publishes_once_through_the_accounts_proxy(
    platform: Platform, desk: Desk, pproxy_http: PproxyServer, pproxy_socks5: PproxyServer
) -> None:
    proxy = pproxy_socks5 if platform in SOCKS else pproxy_http
    http, h = desk.api.http, desk.h
    proxy_id = await desk.proxy(proxy)
    soul = (await http.post("/axon/souls", json={"name": f"Brand on {platform.value}"}, headers=h)).json()
    body = {"soulId": soul["id"], "platform": platform.value, "handle": HANDLES[platform], "proxyId": proxy_id}
    account = await http.post("/axon/accounts", json=body, headers=h)
    assert account.status_code == 201, account.text
    name, kind = MEDIA.get(platform, ("sample.jpg", "image"))
    content = f"Launch day on {platform.value} #souls"

    async with watching(desk.sandbox, platform, proxy.pid) as watch:
        integration_id = await _connect(desk, platform, account.json()["id"])
        await desk.autolink_done(integration_id)
        linked = await http.patch(f"/axon/accounts/{account.json()['id']}/integration",
                                  json={"integrationId": integration_id}, headers=h)  # fmt: skip
        assert linked.status_code == 200, linked.text
        mapped = await http.post("/axon/matrix/mappings", json={"soulId": soul["id"], "integrationId": integration_id},
                                 headers=h)  # fmt: skip
        assert mapped.status_code == 201, mapped.text
        post = await desk.post(soulId=soul["id"], content=content,
                               media=[{"url": f"{desk.sandbox.url}/_sandbox/media/{name}", "kind": kind}])  # fmt: skip
        done = await desk.settled(post["id"], within_s=40)

    [delivery] = done["deliveries"]
    assert (done["state"], delivery["state"], delivery["integrationId"]) == ("PUBLISHED", "PUBLISHED", integration_id)
    [held] = desk.platform_posts(platform)  # exactly one post on the platform
    assert (held["text"], len(held["media_ids"])) == (content, 1)  # with the text and the media
    assert (delivery["externalId"], delivery["url"]) == (held["id"], held["url"])

    # Every request of the connection and of the publishing came from the proxy process; only the user's own
    # browser (the authorize step) came from here, which shows the watch tells the two apart.
    endpoints = [r["endpoint"] for r in watch.served()]
    assert CREATES[platform] in endpoints
    assert watch.unproven(proxy.pid, skip_endpoints={"authorize"}) == []
    browser = [watch.owner(r) for r in watch.served() if r["endpoint"] == "authorize"]
    assert browser == ([] if platform == Platform.BLUESKY else [os.getpid()])
