"""Threads publishing against the real sandbox: containers polled until FINISHED, threads_publish, the journaled
container that lets a re-run ask before publishing again, error mapping, proxy routing and insights."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.platforms.publishing.threads import CHILDREN_KEY, CONTAINER_KEY, MEDIA_KEY, ThreadsPublisher
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    InvalidContent,
    ProxySpec,
    Transient,
)
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem, OutgoingPost, PublishingChannel
from tests.platforms.conftest import Sandbox, connect
from tests.platforms.publishing import faults
from tests.platforms.publishing.journal import MemoryJournal

P = Platform.THREADS
USER_ID = "threads-user-1"
PERMALINK = "https://www.threads.net/@sandboxbrand/post/"


class Crash(BaseException):
    """A worker dying mid-publish: not an Exception, so nothing in the adapter can swallow it."""


def publisher(sandbox: Sandbox) -> ThreadsPublisher:
    pub = ThreadsPublisher(sandbox.endpoints()[P])
    pub.poll_interval_s = 0.05
    pub.poll_timeout_s = 5.0
    return pub


async def channel(sandbox: Sandbox, proxy: ProxySpec | None = None) -> PublishingChannel:
    connected = await connect(sandbox, P, proxy)
    return PublishingChannel(USER_ID, "sandboxbrand", connected.tokens.access_token)


async def rig(sandbox: Sandbox, proxy: ProxySpec | None = None) -> faults.Rig:
    return faults.Rig(sandbox, publisher(sandbox), await channel(sandbox, proxy), text_post())


def image(sandbox: Sandbox, name: str = "sample.jpg") -> MediaItem:
    return MediaItem(url=f"{sandbox.url}/_sandbox/media/{name}", alt_text="a sample")


def text_post(key: str = "post-1:threads-1", text: str = "Hello Threads", *items: MediaItem) -> OutgoingPost:
    return OutgoingPost(key, text, datetime.now(UTC), tuple(items))


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return faults.posts(sandbox, P)


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return faults.calls(sandbox, P, endpoint)


# --- publishing ---------------------------------------------------------------------------------------------------


async def test_publish_text(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    journal = MemoryJournal()
    published = await publisher(sandbox).publish(ch, text_post(), journal, proxy=None)
    [stored] = posts(sandbox)
    assert published.external_id == stored["id"]
    assert published.url == stored["url"]
    assert published.url is not None
    assert published.url.startswith(PERMALINK)
    assert stored["text"] == "Hello Threads"
    assert stored["extra"]["container_id"] == journal.values[CONTAINER_KEY]
    assert json.loads(journal.values[MEDIA_KEY]) == {"id": published.external_id, "url": published.url}


async def test_publish_image_polls_the_container(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    published = await publisher(sandbox).publish(
        ch, text_post("k", "A photo", image(sandbox)), MemoryJournal(), proxy=None
    )
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    assert stored["media_ids"] == [f"{sandbox.url}/_sandbox/media/sample.jpg"]
    assert stored["extra"]["media_type"] == "IMAGE"
    assert calls(sandbox, "object") >= 3  # IN_PROGRESS at least once, FINISHED, then the permalink


async def test_publish_carousel(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    journal = MemoryJournal()
    post = text_post("k", "Two photos", image(sandbox), image(sandbox, "sample.png"))
    await publisher(sandbox).publish(ch, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert stored["extra"]["media_type"] == "CAROUSEL_ALBUM"
    assert len(stored["media_ids"]) == 2
    assert len(json.loads(journal.values[CHILDREN_KEY])) == 2
    assert calls(sandbox, "create_container") == 3


# --- exactly once -------------------------------------------------------------------------------------------------


async def test_crash_before_publishing_resumes_the_same_container(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = await channel(sandbox)
    journal = MemoryJournal()
    crashing = publisher(sandbox)

    async def crash(*_: object) -> None:
        raise Crash

    monkeypatch.setattr(crashing, "_wait_finished", crash)
    with pytest.raises(Crash):
        await crashing.publish(ch, text_post(), journal, proxy=None)
    assert posts(sandbox) == []
    assert await publisher(sandbox).find_published(ch, text_post(), journal, proxy=None) is None

    published = await publisher(sandbox).publish(ch, text_post(), journal, proxy=None)
    assert [p["id"] for p in posts(sandbox)] == [published.external_id]
    assert calls(sandbox, "create_container") == 1


async def test_crash_after_threads_publish_finds_the_post_instead_of_publishing_again(sandbox: Sandbox) -> None:
    class DiesOnMedia(MemoryJournal):
        async def record(self, key: str, value: str) -> None:
            if key == MEDIA_KEY:
                raise Crash
            await super().record(key, value)

    ch = await channel(sandbox)
    # An earlier post with the same text, made before this delivery's threads_publish, must not be taken for ours.
    await publisher(sandbox).publish(ch, text_post("older:1"), MemoryJournal(), proxy=None)
    await asyncio.sleep(1.1)  # the listing's `since` has one-second resolution
    pub = publisher(sandbox)
    pub.clock_skew_s = 0.0  # one clock here; the default allows for Meta's clock being a little behind ours
    post = text_post()
    dying = DiesOnMedia()
    with pytest.raises(Crash):
        await pub.publish(ch, post, dying, proxy=None)
    journal = MemoryJournal(dying.values)
    assert MEDIA_KEY not in journal.values

    found = await pub.find_published(ch, post, journal, proxy=None)
    published = await pub.publish(ch, post, journal, proxy=None)
    assert found == published
    mine = [p for p in posts(sandbox) if p["extra"]["container_id"] == journal.values[CONTAINER_KEY]]
    assert [p["id"] for p in mine] == [published.external_id]
    assert len(posts(sandbox)) == 2  # the older post and exactly one for this delivery
    assert calls(sandbox, "publish") == 2  # one per delivery: the re-run asked the container and did not publish


async def test_find_published(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    journal = MemoryJournal()
    assert await pub.find_published(ch, text_post(), journal, proxy=None) is None
    published = await pub.publish(ch, text_post(), journal, proxy=None)
    assert await pub.find_published(ch, text_post(), journal, proxy=None) == published
    assert await pub.find_published(ch, text_post("never:posted"), MemoryJournal(), proxy=None) is None
    # A container Threads no longer knows cannot have been published.
    assert await pub.find_published(ch, text_post(), MemoryJournal({CONTAINER_KEY: "404"}), proxy=None) is None


# --- errors -------------------------------------------------------------------------------------------------------


async def test_duplicate_fault_is_duplicate(sandbox: Sandbox) -> None:
    await faults.duplicate(await rig(sandbox), "publish")


async def test_text_over_500_is_invalid_content(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    with pytest.raises(InvalidContent, match="500"):
        await publisher(sandbox).publish(ch, text_post("k", "x" * 501), MemoryJournal(), proxy=None)


async def test_media_threads_cannot_download_is_invalid_content(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    post = text_post("k", "broken", image(sandbox, "missing.jpg"))
    with pytest.raises(InvalidContent, match="container failed"):
        await publisher(sandbox).publish(ch, post, MemoryJournal(), proxy=None)


@pytest.mark.parametrize(("kind", "error"), [("expire_token", AuthExpired), ("revoke_token", AuthRevoked)])
async def test_token_problems(sandbox: Sandbox, kind: str, error: type[Exception]) -> None:
    await faults.refused(await rig(sandbox), kind, "create_container", error)


async def test_rate_limit_is_rate_limited_with_the_usage_hint(sandbox: Sandbox) -> None:
    # X-Business-Use-Case-Usage: 2 minutes to regain access
    assert await faults.rate_limited(await rig(sandbox), "publish", retry_after_s=120) == 120


async def test_server_error_is_transient(sandbox: Sandbox) -> None:
    await faults.refused(await rig(sandbox), "server_error", "create_container", Transient, status=502)


# --- proxy and metrics --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", faults.PROXIES)
async def test_publish_goes_through_the_proxy(sandbox: Sandbox, kind: str, request: pytest.FixtureRequest) -> None:
    await faults.through_proxy(request, kind, lambda spec: rig(sandbox, spec), ("publish",), ("/threads_publish$",))


async def test_metrics(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    published = await pub.publish(ch, text_post(), MemoryJournal(), proxy=None)
    metrics = await pub.metrics(ch, published, proxy=None)
    assert metrics.views is not None
    assert metrics.views >= 10
    assert metrics.likes is not None
    assert metrics.quotes is not None
    assert metrics.impressions is None
