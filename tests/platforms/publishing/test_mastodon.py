"""Mastodon publishing against the real sandbox instance: the Idempotency-Key derived from the delivery key, media
uploads polled until processed, reading the account's statuses back for check-before-retry, error mapping, proxy
routing and counters."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.platforms.publishing.mastodon import (
    MEDIA_KEY,
    SENT_KEY,
    STATUS_KEY,
    MastodonPublisher,
    comparable,
    idempotency_key,
    plain,
)
from domain.channels.connectors import AuthRevoked, InvalidContent, ProxySpec, Transient
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem, OutgoingPost, PublishingChannel
from tests.platforms.conftest import Sandbox, connect
from tests.platforms.publishing import faults
from tests.platforms.publishing.journal import MemoryJournal

P = Platform.MASTODON
ACCOUNT_ID = "mastodon-user-1"


class Crash(BaseException):
    """A worker dying mid-publish: not an Exception, so nothing in the adapter can swallow it."""


class DiesOnStatus(MemoryJournal):
    """The worker dies right after the status request answered, before the result is journaled."""

    async def record(self, key: str, value: str) -> None:
        if key == STATUS_KEY:
            raise Crash
        await super().record(key, value)


def publisher(sandbox: Sandbox) -> MastodonPublisher:
    pub = MastodonPublisher(sandbox.endpoints()[P])
    pub.poll_interval_s = 0.05
    pub.poll_timeout_s = 5.0
    return pub


async def channel(sandbox: Sandbox, proxy: ProxySpec | None = None) -> PublishingChannel:
    connected = await connect(sandbox, P, proxy)
    instance = f"{sandbox.url}/mastodon"
    return PublishingChannel(ACCOUNT_ID, "sandboxbrand@127.0.0.1", connected.tokens.access_token, api_base=instance)


async def rig(sandbox: Sandbox, proxy: ProxySpec | None = None) -> faults.Rig:
    return faults.Rig(sandbox, publisher(sandbox), await channel(sandbox, proxy), a_post())


def image(sandbox: Sandbox, name: str = "sample.png", alt: str | None = "a sample") -> MediaItem:
    return MediaItem(url=f"{sandbox.url}/_sandbox/media/{name}", alt_text=alt)


def a_post(key: str = "post-1:mastodon-1", text: str = "Hello fediverse", *items: MediaItem) -> OutgoingPost:
    return OutgoingPost(key, text, datetime.now(UTC), tuple(items))


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return faults.posts(sandbox, P)


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return faults.calls(sandbox, P, endpoint)


async def crashed_after_posting(sandbox: Sandbox, ch: PublishingChannel, post: OutgoingPost) -> MemoryJournal:
    dying = DiesOnStatus()
    with pytest.raises(Crash):
        await publisher(sandbox).publish(ch, post, dying, proxy=None)
    return MemoryJournal(dying.values)


# --- publishing ---------------------------------------------------------------------------------------------------


async def test_publish_text_with_the_idempotency_key(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    journal = MemoryJournal()
    published = await publisher(sandbox).publish(ch, a_post(), journal, proxy=None)
    [stored] = posts(sandbox)
    assert published.external_id == stored["id"]
    assert published.url == f"{sandbox.url}/mastodon/@sandboxbrand/{stored['id']}"
    assert stored["key"] == idempotency_key("post-1:mastodon-1")
    assert stored["extra"]["visibility"] == "public"
    assert json.loads(journal.values[STATUS_KEY]) == {"id": published.external_id, "url": published.url}


async def test_publish_images_waits_for_processing(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    journal = MemoryJournal()
    post = a_post("k", "Two images", image(sandbox), image(sandbox, "sample.jpg", alt=None))
    await publisher(sandbox).publish(ch, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert stored["media_ids"] == json.loads(journal.values[MEDIA_KEY])
    descriptions = [a["description"] for a in stored["extra"]["attachments"]]
    assert descriptions == ["a sample", None]
    assert calls(sandbox, "upload_media") == 2
    assert calls(sandbox, "media") >= 3  # 206 while processing, then 200 for each


async def test_the_channels_instance_wins_over_the_default(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    endpoints = replace(sandbox.endpoints()[P], api_base="http://127.0.0.1:9")  # nothing listens there
    published = await MastodonPublisher(endpoints).publish(ch, a_post(), MemoryJournal(), proxy=None)
    assert [p["id"] for p in posts(sandbox)] == [published.external_id]


# --- exactly once -------------------------------------------------------------------------------------------------


async def test_rerun_after_a_crash_gets_the_same_status_back(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    journal = await crashed_after_posting(sandbox, ch, a_post())
    published = await publisher(sandbox).publish(ch, a_post(), journal, proxy=None)
    assert [p["id"] for p in posts(sandbox)] == [published.external_id]
    assert calls(sandbox, "create_status") == 2  # re-sent with the same key; the instance answered the first status


async def test_rerun_with_journaled_media_reuses_the_uploads(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    post = a_post("k", "With an image", image(sandbox))
    journal = await crashed_after_posting(sandbox, ch, post)
    await publisher(sandbox).publish(ch, post, journal, proxy=None)
    assert calls(sandbox, "upload_media") == 1
    assert len(posts(sandbox)) == 1


async def test_after_the_idempotency_hour_the_statuses_are_read_before_sending(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    journal = await crashed_after_posting(sandbox, ch, a_post())
    long_ago = time.time() - 2 * 3600
    journal.values[SENT_KEY] = str(long_ago)  # the first send was two hours ago: the instance forgot the key
    pub = publisher(sandbox)
    pub.clock_skew_s = 3 * 3600.0  # the status itself was made just now in this test
    published = await pub.publish(ch, a_post(), journal, proxy=None)
    assert [p["id"] for p in posts(sandbox)] == [published.external_id]
    assert calls(sandbox, "create_status") == 1
    assert calls(sandbox, "account_statuses") == 1


async def test_find_published_reads_the_account_statuses(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    text = "Line one\nwith https://example.com/a/very/long/path?x=1&y=2 for @alice@example.social & <friends>"
    # Identical text posted by someone else before this delivery's first send must not be taken for ours.
    await publisher(sandbox).publish(ch, a_post("older:1", text), MemoryJournal(), proxy=None)
    await asyncio.sleep(0.2)
    pub = publisher(sandbox)
    pub.clock_skew_s = 0.1
    journal = await crashed_after_posting(sandbox, ch, a_post(text=text))
    before = calls(sandbox, "create_status")
    found = await pub.find_published(ch, a_post(text=text), journal, proxy=None)
    assert calls(sandbox, "create_status") == before  # looking never posts
    newest = posts(sandbox)[-1]
    assert found is not None
    assert found.external_id == newest["id"]
    assert newest["key"] == idempotency_key("post-1:mastodon-1")


async def test_find_published_none_cases(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    assert await pub.find_published(ch, a_post(), MemoryJournal(), proxy=None) is None
    # A status request was sent (the journal says so) but the instance has no such status.
    sent = MemoryJournal({SENT_KEY: str(time.time())})
    assert await pub.find_published(ch, a_post("never:posted"), sent, proxy=None) is None
    published = await pub.publish(ch, a_post(), MemoryJournal(), proxy=None)
    other = await pub.find_published(ch, a_post("k2", "different text"), MemoryJournal(dict(sent.values)), proxy=None)
    assert other is None
    assert published.external_id


# --- errors -------------------------------------------------------------------------------------------------------


async def test_duplicate_fault_is_duplicate(sandbox: Sandbox) -> None:
    await faults.duplicate(await rig(sandbox), "create_status")


async def test_text_over_500_is_invalid_content(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    url = "https://example.com/" + "x" * 200  # counts as 23
    await pub.publish(ch, a_post("fits", "y" * 476 + " " + url), MemoryJournal(), proxy=None)
    with pytest.raises(InvalidContent, match="character limit"):
        await pub.publish(ch, a_post("long", "y" * 501), MemoryJournal(), proxy=None)
    assert len(posts(sandbox)) == 1


@pytest.mark.parametrize("kind", ["expire_token", "revoke_token"])
async def test_refused_token_is_auth_revoked(sandbox: Sandbox, kind: str) -> None:
    # Mastodon tokens never expire and cannot be refreshed: any refused token needs a reconnect.
    await faults.refused(await rig(sandbox), kind, "create_status", AuthRevoked)


async def test_rate_limit_is_rate_limited_with_the_reset_hint(sandbox: Sandbox) -> None:
    retry_after_s = await faults.rate_limited(await rig(sandbox), "create_status", retry_after_s=120)
    assert retry_after_s is not None
    assert 100 <= retry_after_s <= 125


async def test_server_error_is_transient(sandbox: Sandbox) -> None:
    drill = await rig(sandbox)
    await faults.refused(
        drill, "server_error", "upload_media", Transient, post=a_post("k", "img", image(sandbox)), status=503
    )


# --- proxy and metrics --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", faults.PROXIES)
async def test_publish_goes_through_the_proxy(sandbox: Sandbox, kind: str, request: pytest.FixtureRequest) -> None:
    await faults.through_proxy(
        request, kind, lambda spec: rig(sandbox, spec), ("create_status",), ("/api/v1/statuses$",)
    )


async def test_metrics(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    pub = publisher(sandbox)
    published = await pub.publish(ch, a_post(), MemoryJournal(), proxy=None)
    metrics = await pub.metrics(ch, published, proxy=None)
    assert metrics.likes is not None
    assert metrics.likes >= 1
    assert metrics.reposts is not None
    assert metrics.replies is not None
    assert metrics.views is None


# --- sandbox and helpers ------------------------------------------------------------------------------------------


async def test_sandbox_refuses_media_still_processing(sandbox: Sandbox) -> None:
    ch = await channel(sandbox)
    headers = {"Authorization": f"Bearer {ch.access_token}"}
    async with httpx.AsyncClient(base_url=f"{sandbox.url}/mastodon", trust_env=False) as client:
        files = {"file": ("a.png", b"\x89PNG", "image/png")}
        upload = await client.post("/api/v2/media", files=files, headers=headers)
        assert upload.status_code == 202
        assert upload.json()["url"] is None
        status = await client.post("/api/v1/statuses", json={"media_ids": [upload.json()["id"]]}, headers=headers)
        assert status.status_code == 422
        assert "not finished processing" in status.json()["error"]


def test_plain_and_comparable_agree_on_rendered_statuses() -> None:
    rendered = (
        '<p>Hi <a href="https://x.dev/p"><span class="invisible">https://</span><span>x.dev/p</span></a> '
        "@<span>bob</span> &amp; co<br />next</p><p>para</p>"
    )
    assert plain(rendered) == comparable("Hi https://x.dev/p @bob@remote.example & co\nnext\n\npara")
