"""Instagram publishing against the real sandbox server: containers polled until FINISHED, media_publish, carousels
and reels, the journaled container that makes a re-run resume (and tells, once PUBLISHED, that the post exists),
Instagram's error codes, proxies and metrics."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.platforms.instagram import InstagramConnector
from adapters.platforms.publishing.instagram import CHILD, CONTAINER, MEDIA, PERMALINK, InstagramPublisher
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    InvalidContent,
    ProxySpec,
    RateLimited,
)
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem, MediaKind, OutgoingPost, PublishingChannel
from sandbox import SandboxConfig, create_app
from sandbox.publishing.facebook_graph import SPAM_MARKER
from sandbox.state import SandboxState
from tests.platforms.conftest import REDIRECT, Sandbox, browser_step, connect
from tests.platforms.publishing import faults
from tests.platforms.publishing.journal import MemoryJournal

IG = Platform.INSTAGRAM
USER = "instagram-user-1"
GRAPH = "/instagram/v21.0"


async def setup(
    sandbox: Sandbox, proxy: ProxySpec | None = None, extra_scopes: tuple[str, ...] = ()
) -> tuple[InstagramPublisher, PublishingChannel]:
    endpoints = sandbox.endpoints()[IG]
    if extra_scopes:
        connector = InstagramConnector(replace(endpoints, scopes=(*endpoints.scopes, *extra_scopes)))
        start = connector.start_authorization(state=secrets.token_urlsafe(8), redirect_uri=REDIRECT)
        code = browser_step(start.url)["code"]
        tokens = await connector.exchange_code(code=code, redirect_uri=REDIRECT, code_verifier=None, proxy=proxy)
        token = tokens.access_token
    else:
        token = (await connect(sandbox, IG, proxy=proxy)).tokens.access_token
    publisher = InstagramPublisher(endpoints)
    publisher.poll_interval_s = 0.05
    return publisher, PublishingChannel(USER, "sandboxbrand", token)


async def rig(sandbox: Sandbox, proxy: ProxySpec | None = None) -> faults.Rig:
    publisher, channel = await setup(sandbox, proxy)
    return faults.Rig(sandbox, publisher, channel, outgoing("Under a fault", sample(sandbox)))


def outgoing(text: str, *media: MediaItem, key: str = "post-1:integration-1") -> OutgoingPost:
    return OutgoingPost(key=key, text=text, first_attempt_at=datetime.now(UTC), media=media)


def sample(sandbox: Sandbox, name: str = "sample.jpg", kind: MediaKind = "image") -> MediaItem:
    return MediaItem(f"{sandbox.url}/_sandbox/media/{name}", kind)


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return faults.posts(sandbox, IG)


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return faults.calls(sandbox, IG, endpoint)


async def test_text_only_is_invalid_content_before_any_call(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    before = len(sandbox.requests(IG))
    with pytest.raises(InvalidContent, match="text-only"):
        await publisher.publish(channel, outgoing("Just words"), MemoryJournal(), proxy=None)
    assert len(sandbox.requests(IG)) == before


async def test_publish_image_polls_the_container_then_publishes(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    published = await publisher.publish(channel, outgoing("A photo #sandbox", sample(sandbox)), journal, proxy=None)
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id == journal.values[MEDIA]
    assert stored["text"] == "A photo #sandbox"
    assert stored["media_ids"] == [journal.values[CONTAINER]]
    assert published.url == stored["url"] == journal.values[PERMALINK]
    assert published.url is not None
    assert published.url.startswith("https://www.instagram.com/p/")
    assert calls(sandbox, "object") >= 2  # IN_PROGRESS at least once, then FINISHED


async def test_publish_carousel_with_a_video_item(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    post = outgoing("Carousel", sample(sandbox), sample(sandbox), sample(sandbox, "sample.mp4", "video"))
    published = await publisher.publish(channel, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    assert stored["extra"]["media_type"] == "CAROUSEL_ALBUM"
    assert stored["media_ids"] == [journal.values[CHILD.format(index=i)] for i in range(3)]
    assert calls(sandbox, "create_container") == 4


async def test_publish_video_as_a_reel(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    post = outgoing("Reel", sample(sandbox, "sample.mp4", "video"))
    await publisher.publish(channel, post, MemoryJournal(), proxy=None)
    [stored] = posts(sandbox)
    assert stored["extra"]["media_type"] == "VIDEO"


async def test_png_ends_in_an_error_container(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    with pytest.raises(InvalidContent, match="ERROR") as caught:
        await publisher.publish(channel, outgoing("png", sample(sandbox, "sample.png")), MemoryJournal(), proxy=None)
    assert not caught.value.spam
    assert posts(sandbox) == []


async def test_caption_limits_are_invalid_content(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    with pytest.raises(InvalidContent):  # 2,202 UTF-16 code units
        await publisher.publish(channel, outgoing("😀" * 1101, sample(sandbox)), MemoryJournal(), proxy=None)
    tags = " ".join(f"#t{n}" for n in range(31))
    with pytest.raises(InvalidContent):
        await publisher.publish(channel, outgoing(tags, sample(sandbox)), MemoryJournal(), proxy=None)
    assert calls(sandbox, "create_container") == 2
    assert posts(sandbox) == []


@pytest.mark.parametrize("kind", faults.PROXIES)
async def test_publish_goes_through_the_proxy(sandbox: Sandbox, kind: str, request: pytest.FixtureRequest) -> None:
    publish = (f"{GRAPH}/{USER}/media_publish$",)
    await faults.through_proxy(request, kind, lambda spec: rig(sandbox, spec), ("media_publish",), publish)


async def test_rerun_after_crash_with_a_container_reuses_it(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    post = outgoing("Crash after the container", sample(sandbox))
    container = await publisher._create(
        channel, {"image_url": post.media[0].url, "caption": post.text}, journal, CONTAINER, None
    )
    published = await publisher.publish(channel, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert (stored["id"], stored["media_ids"]) == (published.external_id, [container])
    assert calls(sandbox, "create_container") == 1


async def test_rerun_after_crash_after_media_publish_finds_the_post(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    post = outgoing("Published, then the worker died", sample(sandbox))
    first = MemoryJournal()
    created = await publisher.publish(channel, post, first, proxy=None)
    # As a crash right after media_publish leaves it: the container is journaled, the media id is not.
    crashed = MemoryJournal({CONTAINER: first.values[CONTAINER]})
    again = await publisher.publish(channel, post, crashed, proxy=None)
    assert again == created
    assert crashed.values[MEDIA] == created.external_id
    assert len(posts(sandbox)) == 1
    assert calls(sandbox, "media_publish") == 1


async def test_find_published_reads_the_container_status(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    post = outgoing("Findable", sample(sandbox))
    assert await publisher.find_published(channel, post, MemoryJournal(), proxy=None) is None
    pending = MemoryJournal()
    await publisher._create(channel, {"image_url": post.media[0].url, "caption": post.text}, pending, CONTAINER, None)
    # A container that exists but was never published: certainly no post.
    assert await publisher.find_published(channel, post, pending, proxy=None) is None
    done = MemoryJournal()
    created = await publisher.publish(channel, post, done, proxy=None)
    found = await publisher.find_published(
        channel, post, MemoryJournal({CONTAINER: done.values[CONTAINER]}), proxy=None
    )
    assert found == created


async def test_injected_duplicate_is_duplicate(sandbox: Sandbox) -> None:
    await faults.duplicate(await rig(sandbox), "media_publish")


async def test_spam_is_invalid_content_not_throttling(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    with pytest.raises(InvalidContent) as caught:
        await publisher.publish(channel, outgoing(f"win {SPAM_MARKER}", sample(sandbox)), MemoryJournal(), proxy=None)
    assert caught.value.spam


async def test_daily_cap_is_rate_limited_until_the_oldest_post_leaves_the_window(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    image = sample(sandbox).url
    auth = {"Authorization": f"Bearer {channel.access_token}"}
    async with httpx.AsyncClient(base_url=f"{sandbox.url}{GRAPH}", headers=auth, trust_env=False) as client:
        ids = [
            (await client.post(f"/{USER}/media", data={"image_url": image, "caption": f"n{n}"})).json()["id"]
            for n in range(50)
        ]
        await asyncio.sleep(0.25)
        for container in ids:
            assert (await client.post(f"/{USER}/media_publish", data={"creation_id": container})).status_code == 200
    with pytest.raises(RateLimited) as caught:
        await publisher.publish(channel, outgoing("the 51st", sample(sandbox)), MemoryJournal(), proxy=None)
    assert caught.value.retry_after_s is not None
    assert 86_000 <= caught.value.retry_after_s <= 86_460
    assert len(posts(sandbox)) == 50


@pytest.mark.parametrize(("kind", "error"), [("expire_token", AuthExpired), ("revoke_token", AuthRevoked)])
async def test_token_problems(sandbox: Sandbox, kind: str, error: type[Exception]) -> None:
    await faults.refused(await rig(sandbox), kind, "create_container", error)


async def test_throttling_is_rate_limited_with_the_usage_hint(sandbox: Sandbox) -> None:
    assert await faults.rate_limited(await rig(sandbox), "create_container", retry_after_s=120) == 120


async def test_server_error_on_publish_is_transient_and_the_rerun_publishes_once(sandbox: Sandbox) -> None:
    drill = await rig(sandbox)
    await faults.transient_then_once(drill, "media_publish", 503)
    assert drill.calls("create_container") == 1


async def test_timeout_after_sending_is_unconfirmed_and_the_check_finds_the_post(sandbox: Sandbox) -> None:
    await faults.unconfirmed_then_found(await rig(sandbox), "media_publish")


async def test_metrics_fall_back_to_media_counters_without_the_insights_scope(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    published = await publisher.publish(channel, outgoing("Count", sample(sandbox)), MemoryJournal(), proxy=None)
    metrics = await publisher.metrics(channel, published, proxy=None)
    assert metrics.likes is not None
    assert metrics.likes >= 1
    assert metrics.replies == metrics.likes // 5
    assert metrics.views is None


async def test_metrics_read_insights_with_the_scope(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox, extra_scopes=("instagram_business_manage_insights",))
    published = await publisher.publish(channel, outgoing("Insights", sample(sandbox)), MemoryJournal(), proxy=None)
    metrics = await publisher.metrics(channel, published, proxy=None)
    assert metrics.views is not None
    assert metrics.likes is not None
    assert metrics.views >= metrics.likes * 10
    assert metrics.saves == metrics.likes // 6


# --- sandbox-only ---------------------------------------------------------------------------------------------


async def test_containers_expire_after_a_day() -> None:
    now = [1_800_000_000.0]
    state = SandboxState(clock=lambda: now[0])
    transport = httpx.ASGITransport(app=create_app(SandboxConfig(), state), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        token = await _sandbox_token(client)
        auth = {"Authorization": f"Bearer {token}"}
        image = "http://sandbox/_sandbox/media/sample.jpg"
        created = await client.post(f"{GRAPH}/{USER}/media", data={"image_url": image, "caption": "c"}, headers=auth)
        container = created.json()["id"]
        early = await client.post(f"{GRAPH}/{USER}/media_publish", data={"creation_id": container}, headers=auth)
        assert early.json()["error"]["error_subcode"] == 2207027
        now[0] += 86_400
        status = await client.get(f"{GRAPH}/{container}", params={"fields": "status_code"}, headers=auth)
        assert status.json()["status_code"] == "EXPIRED"
        late = await client.post(f"{GRAPH}/{USER}/media_publish", data={"creation_id": container}, headers=auth)
        assert late.json()["error"]["error_subcode"] == 2207020
        unknown = await client.post(
            f"{GRAPH}/{USER}/media", data={"image_url": "https://elsewhere.invalid/a.jpg"}, headers=auth
        )
        assert unknown.json()["error"]["error_subcode"] == 2207052


async def _sandbox_token(client: httpx.AsyncClient) -> str:
    authorize = await client.get(
        "/instagram/oauth/authorize",
        params={
            "client_id": "instagram-client-id",
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "instagram_business_basic,instagram_business_content_publish",
        },
    )
    code = httpx.URL(authorize.headers["location"]).params["code"]
    token = await client.post(
        "/instagram/oauth/access_token",
        data={
            "client_id": "instagram-client-id",
            "client_secret": "instagram-client-secret",
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": code,
        },
    )
    # The 60-day token: the 1-hour one would expire before the container does.
    long = await client.get(
        "/instagram/access_token",
        params={
            "grant_type": "ig_exchange_token",
            "client_secret": "instagram-client-secret",
            "access_token": token.json()["access_token"],
        },
    )
    value: str = long.json()["access_token"]
    return value
