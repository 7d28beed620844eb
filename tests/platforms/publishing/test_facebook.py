"""Facebook Pages publishing against the real sandbox server: feed posts, one photo, several photos attached to one
post, the journal and the page-feed lookup that keep a re-run from posting twice, Graph errors, proxies, metrics."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.platforms.facebook import FacebookConnector
from adapters.platforms.publishing.facebook import PHOTO, POST, SENT, FacebookPublisher
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    Duplicate,
    InvalidContent,
    ProxySpec,
)
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem, OutgoingPost, PublishingChannel
from sandbox.publishing.facebook_graph import SPAM_MARKER
from tests.platforms.conftest import REDIRECT, Sandbox, browser_step, connect
from tests.platforms.publishing import faults
from tests.platforms.publishing.journal import MemoryJournal

FB = Platform.FACEBOOK
PAGE = "100000000000001"


async def setup(sandbox: Sandbox, proxy: ProxySpec | None = None) -> tuple[FacebookPublisher, PublishingChannel]:
    connected = await connect(sandbox, FB, proxy=proxy)
    profile = await connected.connector.profile(access_token=connected.tokens.access_token, proxy=proxy)
    assert profile.internal_id == PAGE
    channel = PublishingChannel(profile.internal_id, profile.handle, connected.tokens.access_token)
    return FacebookPublisher(sandbox.endpoints()[FB]), channel


async def rig(sandbox: Sandbox, proxy: ProxySpec | None = None) -> faults.Rig:
    publisher, channel = await setup(sandbox, proxy)
    return faults.Rig(sandbox, publisher, channel, outgoing("Under a fault"))


def outgoing(text: str, *media: MediaItem, key: str = "post-1:integration-1", **settings: Any) -> OutgoingPost:
    return OutgoingPost(key=key, text=text, first_attempt_at=datetime.now(UTC), media=media, settings=settings)


def photo(sandbox: Sandbox, name: str = "sample.jpg") -> MediaItem:
    return MediaItem(f"{sandbox.url}/_sandbox/media/{name}")


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return faults.posts(sandbox, FB)


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return faults.calls(sandbox, FB, endpoint)


async def test_publish_text_with_a_link(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    post = outgoing("Hello page", link="https://example.com/launch")
    published = await publisher.publish(channel, post, journal, proxy=None)
    page, _, story = published.external_id.partition("_")
    assert page == PAGE
    assert published.url == f"https://www.facebook.com/{PAGE}/posts/{story}"
    [stored] = posts(sandbox)
    assert (stored["id"], stored["text"], stored["user_id"]) == (published.external_id, "Hello page", PAGE)
    assert journal.values[POST] == published.external_id


async def test_publish_one_photo_with_a_caption(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    published = await publisher.publish(channel, outgoing("Look", photo(sandbox)), MemoryJournal(), proxy=None)
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    assert stored["text"] == "Look"
    assert len(stored["media_ids"]) == 1
    assert calls(sandbox, "create_feed_post") == 0


async def test_publish_several_photos_attaches_unpublished_ones(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    post = outgoing("Album", photo(sandbox), photo(sandbox, "sample.png"))
    published = await publisher.publish(channel, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    assert stored["media_ids"] == [journal.values[PHOTO.format(index=0)], journal.values[PHOTO.format(index=1)]]
    assert (calls(sandbox, "create_photo"), calls(sandbox, "create_feed_post")) == (2, 1)


@pytest.mark.parametrize("kind", faults.PROXIES)
async def test_publish_goes_through_the_proxy(sandbox: Sandbox, kind: str, request: pytest.FixtureRequest) -> None:
    feed = (f"/facebook/v21.0/{PAGE}/feed$",)
    await faults.through_proxy(request, kind, lambda spec: rig(sandbox, spec), ("create_feed_post",), feed)


async def test_rerun_after_crash_between_photos_and_post_reuses_the_photos(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    post = outgoing("Album after a crash", photo(sandbox), photo(sandbox))
    first = await publisher._photo(channel, post.media[0], 0, journal, proxy=None)
    published = await publisher.publish(channel, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    assert stored["media_ids"][0] == first
    assert calls(sandbox, "create_photo") == 2


async def test_rerun_after_crash_after_the_post_finds_it(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    post = outgoing("Posted, then the worker died", photo(sandbox))
    created = await publisher.publish(channel, post, MemoryJournal(), proxy=None)
    crashed = MemoryJournal({SENT: datetime.now(UTC).isoformat()})
    assert await publisher.publish(channel, post, crashed, proxy=None) == created
    assert crashed.values[POST] == created.external_id
    assert len(posts(sandbox)) == 1
    assert calls(sandbox, "create_photo") == 1


async def test_find_published_follows_the_feed_cursor(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    publisher.page_size = 2
    target = outgoing("Needle")
    created = await publisher.publish(channel, target, MemoryJournal(), proxy=None)
    for n in range(4):
        await publisher.publish(channel, outgoing(f"Hay {n}", key=f"k{n}"), MemoryJournal(), proxy=None)
    assert await publisher.find_published(channel, target, MemoryJournal(), proxy=None) == created
    assert calls(sandbox, "page_feed") == 3
    assert await publisher.find_published(channel, outgoing("Never", key="n"), MemoryJournal(), proxy=None) is None


async def test_duplicate_message_is_duplicate(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    await publisher.publish(channel, outgoing("Same words"), MemoryJournal(), proxy=None)
    with pytest.raises(Duplicate):
        await publisher.publish(channel, outgoing("Same words", key="k2"), MemoryJournal(), proxy=None)
    sandbox.fault(FB, "duplicate", endpoint="create_photo")
    with pytest.raises(Duplicate):
        await publisher.publish(channel, outgoing("New", photo(sandbox)), MemoryJournal(), proxy=None)
    assert len(posts(sandbox)) == 1


async def test_message_over_the_limit_is_invalid_content(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    with pytest.raises(InvalidContent) as caught:
        await publisher.publish(channel, outgoing("😀" * 31_604), MemoryJournal(), proxy=None)  # 63,208 UTF-16 units
    assert not caught.value.spam
    assert posts(sandbox) == []


async def test_abusive_content_is_spam_and_a_bad_image_is_invalid(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    with pytest.raises(InvalidContent) as caught:
        await publisher.publish(channel, outgoing(f"buy now {SPAM_MARKER}"), MemoryJournal(), proxy=None)
    assert caught.value.spam
    missing = MediaItem(f"{sandbox.url}/_sandbox/media/nothing-here.jpg")
    with pytest.raises(InvalidContent) as bad:
        await publisher.publish(channel, outgoing("pic", missing), MemoryJournal(), proxy=None)
    assert not bad.value.spam
    assert posts(sandbox) == []


@pytest.mark.parametrize(("kind", "error"), [("expire_token", AuthExpired), ("revoke_token", AuthRevoked)])
async def test_token_problems(sandbox: Sandbox, kind: str, error: type[Exception]) -> None:
    await faults.refused(await rig(sandbox), kind, "create_feed_post", error)


async def test_throttling_is_rate_limited_with_the_usage_header_hint(sandbox: Sandbox) -> None:
    # estimated_time_to_regain_access: 2 minutes
    assert await faults.rate_limited(await rig(sandbox), "create_feed_post", retry_after_s=120) == 120


async def test_server_error_is_transient_and_the_retry_posts_once(sandbox: Sandbox) -> None:
    drill = await rig(sandbox)
    await faults.transient_then_once(drill, "create_feed_post", 500)
    assert drill.calls("page_feed") == 1


async def test_timeout_after_sending_is_unconfirmed_and_the_check_finds_the_post(sandbox: Sandbox) -> None:
    await faults.unconfirmed_then_found(await rig(sandbox), "create_feed_post")


async def test_metrics_without_read_insights_skip_impressions(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    published = await publisher.publish(channel, outgoing("Count me"), MemoryJournal(), proxy=None)
    metrics = await publisher.metrics(channel, published, proxy=None)
    assert metrics.likes is not None
    assert metrics.likes >= 1
    assert metrics.replies == metrics.likes // 5
    assert metrics.reposts == metrics.likes // 4
    assert metrics.impressions is None  # the connector does not ask for read_insights


async def test_metrics_with_read_insights_include_impressions(sandbox: Sandbox) -> None:
    endpoints = sandbox.endpoints()[FB]
    connector = FacebookConnector(replace(endpoints, scopes=(*endpoints.scopes, "read_insights")))
    start = connector.start_authorization(state=secrets.token_urlsafe(8), redirect_uri=REDIRECT)
    code = browser_step(start.url)["code"]
    tokens = await connector.exchange_code(code=code, redirect_uri=REDIRECT, code_verifier=None, proxy=None)
    channel = PublishingChannel(PAGE, None, tokens.access_token)
    publisher = FacebookPublisher(endpoints)
    published = await publisher.publish(channel, outgoing("Seen"), MemoryJournal(), proxy=None)
    metrics = await publisher.metrics(channel, published, proxy=None)
    assert metrics.impressions is not None
    assert metrics.likes == metrics.impressions // 10


async def test_video_and_empty_posts_are_refused_before_any_call(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    before = len(sandbox.requests(FB))
    with pytest.raises(InvalidContent):
        await publisher.publish(channel, outgoing(" "), MemoryJournal(), proxy=None)
    video = MediaItem(f"{sandbox.url}/_sandbox/media/sample.mp4", "video")
    with pytest.raises(InvalidContent):
        await publisher.publish(channel, outgoing("v", video), MemoryJournal(), proxy=None)
    assert len(sandbox.requests(FB)) == before
