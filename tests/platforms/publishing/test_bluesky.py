"""Bluesky publishing against the real sandbox PDS: the record key derived from the delivery key that makes every
retry land on the same at:// URI, images through uploadBlob, error mapping, proxy routing and post counters."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.platforms.publishing.bluesky import BlueskyPublisher, link_facets, record_key
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    InvalidContent,
    ProxySpec,
)
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem, OutgoingPost, PublishedPost, PublishingChannel
from tests.platforms.conftest import Sandbox, connect
from tests.platforms.publishing import faults
from tests.platforms.publishing.journal import MemoryJournal

P = Platform.BLUESKY
DID = "did:plc:sandboxbrand0000000000"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def publisher(sandbox: Sandbox) -> BlueskyPublisher:
    return BlueskyPublisher(sandbox.endpoints()[P])


async def channel(sandbox: Sandbox, proxy: ProxySpec | None = None) -> PublishingChannel:
    connected = await connect(sandbox, P, proxy)
    return PublishingChannel(DID, "sandboxbrand.bsky.social", connected.tokens.access_token)


async def rig(sandbox: Sandbox, proxy: ProxySpec | None = None) -> faults.Rig:
    return faults.Rig(sandbox, publisher(sandbox), await channel(sandbox, proxy), a_post())


def image(sandbox: Sandbox, name: str = "sample.png", alt: str | None = "a sample") -> MediaItem:
    return MediaItem(url=f"{sandbox.url}/_sandbox/media/{name}", alt_text=alt)


def a_post(key: str = "post-1:bluesky-1", text: str = "Hello Bluesky", *items: MediaItem) -> OutgoingPost:
    return OutgoingPost(key, text, datetime.now(UTC), tuple(items))


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return faults.posts(sandbox, P)


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return faults.calls(sandbox, P, endpoint)


# --- publishing ---------------------------------------------------------------------------------------------------


async def test_publish_text_at_the_key_derived_record_key(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    post = a_post(text="Read https://example.com/a?b=1. Thanks")
    published = await publisher(sandbox).publish(ch, post, MemoryJournal(), proxy=None)
    rkey = record_key(post.key)
    assert published == PublishedPost(
        f"at://{DID}/app.bsky.feed.post/{rkey}", f"https://bsky.app/profile/{DID}/post/{rkey}"
    )
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    record = stored["extra"]["record"]
    assert record["text"] == post.text
    [facet] = record["facets"]
    assert facet["features"][0]["uri"] == "https://example.com/a?b=1"
    assert facet["index"] == {"byteStart": 5, "byteEnd": 30}


async def test_publish_images_with_alt_text(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    post = a_post("k", "Two images", image(sandbox), image(sandbox, "sample.jpg", alt=None))
    await publisher(sandbox).publish(ch, post, MemoryJournal(), proxy=None)
    [stored] = posts(sandbox)
    embed = stored["extra"]["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in embed["images"]] == ["a sample", ""]
    assert [i["image"]["mimeType"] for i in embed["images"]] == ["image/png", "image/jpeg"]
    assert stored["media_ids"] == [i["image"]["ref"]["$link"] for i in embed["images"]]
    assert calls(sandbox, "upload_blob") == 2


async def test_video_is_invalid_content(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    video = MediaItem(f"{sandbox.url}/_sandbox/media/sample.mp4", kind="video")
    with pytest.raises(InvalidContent, match="no video"):
        await publisher(sandbox).publish(ch, a_post("k", "v", video), MemoryJournal(), proxy=None)


async def test_the_accounts_own_pds_wins_over_the_default(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    endpoints = replace(sandbox.endpoints()[P], api_base="http://127.0.0.1:9")  # nothing listens there
    own_pds = replace(ch, api_base=f"{sandbox.url}/bluesky")
    published = await BlueskyPublisher(endpoints).publish(own_pds, a_post(), MemoryJournal(), proxy=None)
    assert [p["id"] for p in posts(sandbox)] == [published.external_id]


# --- exactly once -------------------------------------------------------------------------------------------------


async def test_rerun_after_the_record_was_written_returns_it(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    first = await pub.publish(ch, a_post(), MemoryJournal(), proxy=None)
    # The worker died before the delivery stored the result: the re-run starts with an empty journal.
    again = await pub.publish(ch, a_post(), MemoryJournal(), proxy=None)
    assert again == first
    assert len(posts(sandbox)) == 1
    assert calls(sandbox, "create_record") == 1


async def test_rkey_conflict_means_our_earlier_record(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    ch = await channel(sandbox)
    first = await publisher(sandbox).publish(ch, a_post(), MemoryJournal(), proxy=None)
    racing = publisher(sandbox)
    real_get = racing._get_record
    looked: list[str] = []

    async def missed_once(*args: Any) -> PublishedPost | None:
        # The earlier attempt's write lands between this attempt's check and its createRecord.
        looked.append("get")
        return None if len(looked) == 1 else await real_get(*args)

    monkeypatch.setattr(racing, "_get_record", missed_once)
    assert await racing.publish(ch, a_post(), MemoryJournal(), proxy=None) == first
    assert len(posts(sandbox)) == 1
    assert calls(sandbox, "create_record") == 2  # the second one was refused: the rkey was taken


async def test_find_published(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    assert await pub.find_published(ch, a_post(), MemoryJournal(), proxy=None) is None
    published = await pub.publish(ch, a_post(), MemoryJournal(), proxy=None)
    assert await pub.find_published(ch, a_post(), MemoryJournal(), proxy=None) == published
    assert await pub.find_published(ch, a_post("never:posted"), MemoryJournal(), proxy=None) is None


# --- errors -------------------------------------------------------------------------------------------------------


async def test_duplicate_fault_is_duplicate(sandbox: Sandbox) -> None:
    await faults.duplicate(await rig(sandbox), "create_record")


async def test_text_over_300_graphemes_is_invalid_content(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    accents = "e\u0301" * 300  # 600 code points, 300 graphemes: allowed
    await pub.publish(ch, a_post("ok", accents), MemoryJournal(), proxy=None)
    with pytest.raises(InvalidContent, match="300 graphemes"):
        await pub.publish(ch, a_post("too-long", "x" * 301), MemoryJournal(), proxy=None)
    assert len(posts(sandbox)) == 1


@pytest.mark.parametrize(("kind", "error"), [("expire_token", AuthExpired), ("revoke_token", AuthRevoked)])
async def test_token_problems(sandbox: Sandbox, kind: str, error: type[Exception]) -> None:
    await faults.refused(await rig(sandbox), kind, "create_record", error)


async def test_rate_limit_is_rate_limited_with_the_reset_hint(sandbox: Sandbox) -> None:
    retry_after_s = await faults.rate_limited(await rig(sandbox), "create_record", retry_after_s=120)
    assert retry_after_s is not None
    assert 100 <= retry_after_s <= 125


async def test_server_error_is_transient_and_the_retry_posts_once(sandbox: Sandbox) -> None:
    # A fresh journal: the record key derived from the delivery key alone keeps the retry from posting twice.
    await faults.transient_then_once(await rig(sandbox), "create_record", 502, fresh_journal=True)


# --- proxy and metrics --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", faults.PROXIES)
async def test_publish_goes_through_the_proxy(sandbox: Sandbox, kind: str, request: pytest.FixtureRequest) -> None:
    await faults.through_proxy(
        request, kind, lambda spec: rig(sandbox, spec), ("create_record",), (r"\.createRecord$",)
    )


async def test_metrics(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    published = await pub.publish(ch, a_post(), MemoryJournal(), proxy=None)
    metrics = await pub.metrics(ch, published, proxy=None)
    assert metrics.likes is not None
    assert metrics.likes >= 1
    assert metrics.reposts is not None
    assert metrics.quotes is not None
    assert metrics.views is None  # Bluesky counts no views


# --- pure helpers -------------------------------------------------------------------------------------------------


def test_record_key_is_a_stable_tid_per_delivery() -> None:
    keys = {record_key(f"post-{i}:bluesky-1") for i in range(500)}
    assert len(keys) == 500
    assert all(TID.match(k) for k in keys)
    assert record_key("post-1:bluesky-1") == record_key("post-1:bluesky-1")


def test_link_facets_count_utf8_bytes() -> None:
    [facet] = link_facets("héllo https://x.dev!")
    assert facet["index"] == {"byteStart": 7, "byteEnd": 20}
    assert facet["features"][0]["uri"] == "https://x.dev"
    assert link_facets("no links here") == []
