"""TikTok publishing against the real sandbox: video upload and photo pull, the publish_id journal that keeps a re-run
from calling init twice, check-before-retry, error mapping, proxy routing and metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.platforms.publishing.tiktok import INIT_KEY, PUBLISH_KEY, UPLOADED_KEY, TikTokPublisher, chunk_plan
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    InvalidContent,
    ProxySpec,
    Transient,
    Unconfirmed,
)
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem, OutgoingPost, PublishingChannel
from tests.platforms.conftest import Connected, Sandbox, connect
from tests.platforms.publishing import faults
from tests.platforms.publishing.journal import MemoryJournal

P = Platform.TIKTOK
USER_ID = "tiktok-user-1"


class Crash(BaseException):
    """A worker dying mid-publish: not an Exception, so nothing in the adapter can swallow it."""


def publisher(sandbox: Sandbox) -> TikTokPublisher:
    pub = TikTokPublisher(sandbox.endpoints()[P])
    pub.poll_interval_s = 0.05
    pub.poll_timeout_s = 5.0
    return pub


async def channel(sandbox: Sandbox, proxy: ProxySpec | None = None) -> tuple[PublishingChannel, Connected]:
    connected = await connect(sandbox, P, proxy)
    return PublishingChannel(USER_ID, "sandboxbrand", connected.tokens.access_token), connected


async def rig(sandbox: Sandbox, proxy: ProxySpec | None = None) -> faults.Rig:
    ch, _ = await channel(sandbox, proxy)
    return faults.Rig(sandbox, publisher(sandbox), ch, video_post(sandbox))


def media(sandbox: Sandbox, name: str, kind: str = "image") -> MediaItem:
    return MediaItem(url=f"{sandbox.url}/_sandbox/media/{name}", kind=kind)  # type: ignore[arg-type]


def video_post(
    sandbox: Sandbox, key: str = "post-1:tiktok-1", text: str = "Our new video", **settings: Any
) -> OutgoingPost:
    return OutgoingPost(key, text, datetime.now(UTC), (media(sandbox, "sample.mp4", "video"),), settings)


def photo_post(sandbox: Sandbox, key: str = "post-2:tiktok-1", *names: str) -> OutgoingPost:
    items = tuple(media(sandbox, n) for n in (names or ("sample.jpg", "sample.png")))
    return OutgoingPost(key, "Two photos", datetime.now(UTC), items)


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return faults.posts(sandbox, P)


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return faults.calls(sandbox, P, endpoint)


# --- publishing ---------------------------------------------------------------------------------------------------


async def test_publish_video_uploads_polls_and_returns_the_public_post(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    journal = MemoryJournal()
    published = await publisher(sandbox).publish(ch, video_post(sandbox), journal, proxy=None)

    [stored] = posts(sandbox)
    assert published.external_id == stored["id"]
    assert published.external_id.isdigit()
    assert published.url == f"https://www.tiktok.com/@sandboxbrand/video/{stored['id']}"
    assert stored["text"] == "Our new video"
    assert stored["extra"]["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert journal.values[INIT_KEY] == "sent"
    assert journal.values[UPLOADED_KEY] == "1"
    assert '"publish_id": "v_pub_file' in journal.values[PUBLISH_KEY]
    assert calls(sandbox, "creator_info") == 1
    assert calls(sandbox, "video_init") == 1
    assert calls(sandbox, "upload") == 1
    assert calls(sandbox, "status_fetch") >= 2  # processing takes 0.2 s: the adapter had to poll


async def test_publish_photos_by_url(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    published = await publisher(sandbox).publish(ch, photo_post(sandbox), MemoryJournal(), proxy=None)
    [stored] = posts(sandbox)
    assert published.url == f"https://www.tiktok.com/@sandboxbrand/photo/{stored['id']}"
    assert len(stored["media_ids"]) == 2
    assert calls(sandbox, "content_init") == 1
    assert calls(sandbox, "upload") == 0  # TikTok pulls photos itself


async def test_private_post_completes_without_a_public_id(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    post = video_post(sandbox, privacy_level="SELF_ONLY")
    published = await publisher(sandbox).publish(ch, post, MemoryJournal(), proxy=None)
    assert published.external_id.startswith("v_pub_file~")
    assert published.url is None
    assert len(posts(sandbox)) == 1


@pytest.mark.parametrize(
    ("items", "match"),
    [
        ((), "text-only"),
        (("sample.mp4", "sample.mp4"), "one video"),
    ],
)
async def test_impossible_media_is_refused_before_any_call(
    sandbox: Sandbox, items: tuple[str, ...], match: str
) -> None:
    ch, _ = await channel(sandbox)
    before = len(sandbox.requests(P))
    post = OutgoingPost("k", "text", datetime.now(UTC), tuple(media(sandbox, n, "video") for n in items))
    with pytest.raises(InvalidContent, match=match):
        await publisher(sandbox).publish(ch, post, MemoryJournal(), proxy=None)
    assert len(sandbox.requests(P)) == before


async def test_caption_over_the_limit_is_invalid_content(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    journal = MemoryJournal()
    with pytest.raises(InvalidContent, match="invalid_params"):
        await publisher(sandbox).publish(ch, video_post(sandbox, text="x" * 2201), journal, proxy=None)
    assert journal.values[INIT_KEY] == "refused"  # a definite refusal: a corrected post may init again
    assert posts(sandbox) == []


async def test_photo_the_platform_cannot_pull_fails_as_invalid_content(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    post = OutgoingPost("k", "t", datetime.now(UTC), (MediaItem(f"{sandbox.url}/_sandbox/media/nope.jpg"),))
    with pytest.raises(InvalidContent, match="photo_pull_failed"):
        await publisher(sandbox).publish(ch, post, MemoryJournal(), proxy=None)


# --- exactly once -------------------------------------------------------------------------------------------------


async def test_crash_before_upload_resumes_with_the_same_publish_id(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch, _ = await channel(sandbox)
    journal = MemoryJournal()
    crashing = publisher(sandbox)

    async def crash(*_: object) -> None:
        raise Crash

    monkeypatch.setattr(crashing, "_upload", crash)
    with pytest.raises(Crash):
        await crashing.publish(ch, video_post(sandbox), journal, proxy=None)
    assert posts(sandbox) == []  # init made a publish_id, but no post exists without the bytes
    assert PUBLISH_KEY in journal.values

    published = await publisher(sandbox).publish(ch, video_post(sandbox), journal, proxy=None)
    [stored] = posts(sandbox)
    assert published.external_id == stored["id"]
    assert calls(sandbox, "video_init") == 1


async def test_crash_after_the_last_chunk_does_not_upload_again(sandbox: Sandbox) -> None:
    class DiesOnUploaded(MemoryJournal):
        async def record(self, key: str, value: str) -> None:
            if key == UPLOADED_KEY:
                raise Crash
            await super().record(key, value)

    ch, _ = await channel(sandbox)
    dying = DiesOnUploaded()
    with pytest.raises(Crash):
        await publisher(sandbox).publish(ch, video_post(sandbox), dying, proxy=None)
    journal = MemoryJournal(dying.values)  # what the durable journal held when the worker died
    published = await publisher(sandbox).publish(ch, video_post(sandbox), journal, proxy=None)
    assert [p["id"] for p in posts(sandbox)] == [published.external_id]
    assert calls(sandbox, "video_init") == 1
    assert calls(sandbox, "upload") == 1  # status/fetch said every byte was there


async def test_init_sent_without_a_recorded_publish_id_is_unconfirmed_and_never_repeated(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    journal = MemoryJournal({INIT_KEY: "sent"})  # the worker died while init was in flight
    with pytest.raises(Unconfirmed):
        await publisher(sandbox).publish(ch, video_post(sandbox), journal, proxy=None)
    with pytest.raises(Unconfirmed):
        await publisher(sandbox).find_published(ch, video_post(sandbox), journal, proxy=None)
    assert calls(sandbox, "video_init") == 0


async def test_find_published(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    journal = MemoryJournal()
    pub = publisher(sandbox)
    assert await pub.find_published(ch, video_post(sandbox), journal, proxy=None) is None
    published = await pub.publish(ch, video_post(sandbox), journal, proxy=None)
    assert await pub.find_published(ch, video_post(sandbox), journal, proxy=None) == published
    assert await pub.find_published(ch, video_post(sandbox, key="never:posted"), MemoryJournal(), proxy=None) is None


async def test_find_published_while_the_upload_is_incomplete_is_none(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch, _ = await channel(sandbox)
    journal = MemoryJournal()
    crashing = publisher(sandbox)

    async def crash(*_: object) -> None:
        raise Crash

    monkeypatch.setattr(crashing, "_upload", crash)
    with pytest.raises(Crash):
        await crashing.publish(ch, video_post(sandbox), journal, proxy=None)
    assert await publisher(sandbox).find_published(ch, video_post(sandbox), journal, proxy=None) is None


async def test_server_error_while_polling_is_transient_and_the_retry_resumes(sandbox: Sandbox) -> None:
    drill = await rig(sandbox)
    await faults.transient_then_once(drill, "status_fetch", 503)
    assert drill.calls("video_init") == 1


# --- errors -------------------------------------------------------------------------------------------------------


async def test_duplicate_fault_is_duplicate(sandbox: Sandbox) -> None:
    journal = MemoryJournal()
    await faults.duplicate(await rig(sandbox), "video_init", journal)
    assert journal.values[INIT_KEY] == "refused"


async def test_daily_cap_is_spam_risk(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    body = {
        "post_info": {"description": "filler", "privacy_level": "SELF_ONLY"},
        "source_info": {"source": "PULL_FROM_URL", "photo_images": [f"{sandbox.url}/_sandbox/media/sample.jpg"]},
        "post_mode": "DIRECT_POST",
        "media_type": "PHOTO",
    }
    headers = {"Authorization": f"Bearer {ch.access_token}"}
    async with httpx.AsyncClient(base_url=f"{sandbox.url}/tiktok", trust_env=False) as client:
        for _ in range(15):
            (await client.post("/v2/post/publish/content/init/", json=body, headers=headers)).raise_for_status()
    with pytest.raises(InvalidContent) as caught:
        await publisher(sandbox).publish(ch, photo_post(sandbox), MemoryJournal(), proxy=None)
    assert caught.value.spam
    assert "spam_risk_too_many_posts" in str(caught.value)


async def test_expired_token_is_auth_expired(sandbox: Sandbox) -> None:
    await faults.refused(await rig(sandbox), "expire_token", "creator_info", AuthExpired)


async def test_revoked_token_reads_as_expired_then_refresh_says_revoked(sandbox: Sandbox) -> None:
    # TikTok answers access_token_invalid either way; the refresh that follows is what tells a revoked grant.
    ch, connected = await channel(sandbox)
    drill = faults.Rig(sandbox, publisher(sandbox), ch, video_post(sandbox))
    await faults.refused(drill, "revoke_token", "creator_info", AuthExpired)
    assert connected.tokens.refresh_token
    with pytest.raises(AuthRevoked):
        await connected.connector.refresh(refresh_token=connected.tokens.refresh_token, proxy=None)


async def test_rate_limit_is_rate_limited(sandbox: Sandbox) -> None:
    journal = MemoryJournal()
    # TikTok sends no hint; the workflow's backoff applies
    assert await faults.rate_limited(await rig(sandbox), "video_init", journal, retry_after_s=60) is None
    assert journal.values[INIT_KEY] == "refused"


async def test_server_error_on_init_is_transient(sandbox: Sandbox) -> None:
    await faults.refused(await rig(sandbox), "server_error", "video_init", Transient, status=500)


# --- proxy and metrics --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", faults.PROXIES)
async def test_publish_goes_through_the_proxy(sandbox: Sandbox, kind: str, request: pytest.FixtureRequest) -> None:
    await faults.through_proxy(request, kind, lambda spec: rig(sandbox, spec), ("video_init",), ("/video/init/$",))
    [stored] = posts(sandbox)
    assert stored["peer_host"] == "127.0.0.1"


async def test_metrics(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    pub = publisher(sandbox)
    published = await pub.publish(ch, video_post(sandbox), MemoryJournal(), proxy=None)
    metrics = await pub.metrics(ch, published, proxy=None)
    assert metrics.views is not None
    assert metrics.views >= 10
    assert metrics.likes is not None
    assert metrics.replies is not None
    assert metrics.impressions is None  # TikTok reports no impressions


# --- pure helpers and sandbox-only checks -------------------------------------------------------------------------


def test_chunk_plan_follows_tiktok_rules() -> None:
    mb = 1024 * 1024
    assert chunk_plan(64 * 1024) == [(0, 64 * 1024 - 1)]
    assert chunk_plan(7 * mb) == [(0, 7 * mb - 1)]
    plan = chunk_plan(25 * mb)
    assert plan == [(0, 10 * mb - 1), (10 * mb, 25 * mb - 1)]  # the 5 MB tail rides with the last chunk
    with pytest.raises(InvalidContent):
        chunk_plan(0)


async def test_sandbox_multi_chunk_upload_needs_every_byte(sandbox: Sandbox) -> None:
    ch, _ = await channel(sandbox)
    mb = 1024 * 1024
    size, chunk = 11 * mb, 5 * mb
    headers = {"Authorization": f"Bearer {ch.access_token}"}
    post_info = {"title": "chunks", "privacy_level": "PUBLIC_TO_EVERYONE"}
    source: dict[str, Any] = {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk, "total_chunk_count": 2}
    body = {"post_info": post_info, "source_info": source}
    async with httpx.AsyncClient(base_url=f"{sandbox.url}/tiktok", trust_env=False, timeout=10) as client:
        bad = {"post_info": post_info, "source_info": {**source, "total_chunk_count": 3}}
        refused = await client.post("/v2/post/publish/video/init/", json=bad, headers=headers)
        assert refused.status_code == 400
        data = (await client.post("/v2/post/publish/video/init/", json=body, headers=headers)).json()["data"]
        url = data["upload_url"]
        first = await client.put(url, content=bytes(chunk), headers={"Content-Range": f"bytes 0-{chunk - 1}/{size}"})
        assert first.status_code == 206
        assert posts(sandbox) == []
        wrong = await client.put(url, content=bytes(10), headers={"Content-Range": f"bytes {chunk}-{size - 1}/{size}"})
        assert wrong.status_code == 416
        last = await client.put(
            url, content=bytes(size - chunk), headers={"Content-Range": f"bytes {chunk}-{size - 1}/{size}"}
        )
        assert last.status_code == 201
    assert len(posts(sandbox)) == 1
