"""X publishing against the real sandbox server: tweets with text, images and video, the journal that makes a re-run
resume instead of posting twice, check-before-retry through the user's timeline, errors, proxies and metrics."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.platforms.publishing.x import MEDIA, SENT, TWEET, XPublisher
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    Duplicate,
    InvalidContent,
    ProxySpec,
)
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem, OutgoingPost, PublishingChannel
from sandbox.publishing.x import display_text, weighted_length
from sandbox.state import SandboxPost
from tests.platforms.conftest import Connected, Sandbox, connect
from tests.platforms.publishing import faults
from tests.platforms.publishing.journal import MemoryJournal
from tests.sandbox.helpers import REDIRECT, make_client, pkce_pair, redirect_query
from tests.support.proxies import CheckServer, PproxyServer

X = Platform.X


async def setup(sandbox: Sandbox, proxy: ProxySpec | None = None) -> tuple[XPublisher, PublishingChannel, Connected]:
    connected = await connect(sandbox, X, proxy=proxy)
    profile = await connected.connector.profile(access_token=connected.tokens.access_token, proxy=proxy)
    publisher = XPublisher(sandbox.endpoints()[X])
    publisher.max_poll_interval_s = 0.05
    channel = PublishingChannel(profile.internal_id, profile.handle, connected.tokens.access_token)
    return publisher, channel, connected


async def rig(sandbox: Sandbox, proxy: ProxySpec | None = None) -> faults.Rig:
    publisher, channel, _ = await setup(sandbox, proxy)
    return faults.Rig(sandbox, publisher, channel, outgoing("Under a fault"))


def outgoing(text: str, *media: MediaItem, key: str = "post-1:integration-1") -> OutgoingPost:
    return OutgoingPost(key=key, text=text, first_attempt_at=datetime.now(UTC), media=media)


def sample(sandbox: Sandbox, name: str, kind: Any = "image") -> MediaItem:
    return MediaItem(f"{sandbox.url}/_sandbox/media/{name}", kind)


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return faults.posts(sandbox, X)


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return faults.calls(sandbox, X, endpoint)


async def test_publish_text(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    journal = MemoryJournal()
    published = await publisher.publish(channel, outgoing("Hello from the sandbox"), journal, proxy=None)
    assert published.url == f"https://x.com/sandboxbrand/status/{published.external_id}"
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    assert stored["text"] == "Hello from the sandbox"
    assert stored["user_id"] == channel.internal_id
    assert journal.values[TWEET] == published.external_id
    assert SENT in journal.values


async def test_publish_images_uploads_each_and_journals_the_ids(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    journal = MemoryJournal()
    post = outgoing("Two pictures", sample(sandbox, "sample.png"), sample(sandbox, "sample.jpg"))
    published = await publisher.publish(channel, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    assert stored["media_ids"] == [journal.values[MEDIA.format(index=0)], journal.values[MEDIA.format(index=1)]]
    assert calls(sandbox, "media_upload") == 2
    assert calls(sandbox, "media_status") == 0  # images answer without processing_info: nothing to poll


async def test_publish_video_waits_for_processing(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    started = time.monotonic()
    post = outgoing("A video", sample(sandbox, "sample.mp4", "video"))
    published = await publisher.publish(channel, post, MemoryJournal(), proxy=None)
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    assert len(stored["media_ids"]) == 1
    # The chunked flow ran, and STATUS was polled until the 0.2 s processing finished.
    assert [calls(sandbox, e) for e in ("media_initialize", "media_append", "media_finalize")] == [1, 1, 1]
    assert calls(sandbox, "media_status") >= 2
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("kind", faults.PROXIES)
async def test_publish_goes_through_the_proxy(sandbox: Sandbox, kind: str, request: pytest.FixtureRequest) -> None:
    await faults.through_proxy(request, kind, lambda spec: rig(sandbox, spec), ("create_tweet",), ("^/x/2/tweets$",))


async def test_media_download_goes_through_the_proxy(sandbox: Sandbox, pproxy_socks5: PproxyServer) -> None:
    spec = faults.proxy_spec(pproxy_socks5)
    publisher, channel, _ = await setup(sandbox, spec)
    with CheckServer() as media_host:
        # The check server serves JSON, which X refuses as media: the download itself is what is under test.
        with pytest.raises(InvalidContent):
            await publisher.publish(
                channel, outgoing("pic", MediaItem(media_host.url("/"))), MemoryJournal(), proxy=spec
            )
        assert [hit.owner_pid for hit in media_host.hits] == [pproxy_socks5.pid]
    assert posts(sandbox) == []


async def test_rerun_after_crash_before_the_tweet_reuses_the_uploaded_media(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    first = MemoryJournal()
    post = outgoing("Crash after upload", sample(sandbox, "sample.png"))
    media_id = await publisher._media(channel, post.media[0], 0, first, proxy=None)
    # The worker died here: the media id is journaled, no tweet was sent.
    published = await publisher.publish(channel, post, first, proxy=None)
    [stored] = posts(sandbox)
    assert stored["media_ids"] == [media_id]
    assert stored["id"] == published.external_id
    assert calls(sandbox, "media_upload") == 1


async def test_rerun_after_crash_after_the_tweet_finds_it_instead_of_posting_again(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    post = outgoing("Crash after create & before journaling https://example.com/a?b=1")
    created = await publisher.publish(channel, post, MemoryJournal(), proxy=None)
    # As a crash right after POST /2/tweets leaves it: sent, but no tweet id recorded.
    crashed = MemoryJournal({SENT: datetime.now(UTC).isoformat()})
    again = await publisher.publish(channel, post, crashed, proxy=None)
    assert again == created
    assert crashed.values[TWEET] == created.external_id
    assert len(posts(sandbox)) == 1
    assert calls(sandbox, "create_tweet") == 1


async def test_find_published_matches_the_text_x_rewrote_and_ignores_others(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    post = outgoing("Fish & chips <3 https://example.com/menu", sample(sandbox, "sample.jpg"))
    created = await publisher.publish(channel, post, MemoryJournal(), proxy=None)
    # X answers this text HTML-escaped with t.co links; the lookup still recognises it.
    assert await publisher.find_published(channel, post, MemoryJournal(), proxy=None) == created
    other = outgoing("A text never posted", key="post-2:integration-1")
    assert await publisher.find_published(channel, other, MemoryJournal(), proxy=None) is None
    later = OutgoingPost(post.key, post.text, datetime.now(UTC).replace(year=2100), post.media)
    assert await publisher.find_published(channel, later, MemoryJournal(), proxy=None) is None


async def test_same_text_twice_is_duplicate(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    await publisher.publish(channel, outgoing("Once only"), MemoryJournal(), proxy=None)
    with pytest.raises(Duplicate):
        await publisher.publish(channel, outgoing("Once only", key="post-2:i"), MemoryJournal(), proxy=None)
    assert len(posts(sandbox)) == 1


async def test_injected_duplicate_is_duplicate(sandbox: Sandbox) -> None:
    await faults.duplicate(await rig(sandbox), "create_tweet")


async def test_too_long_is_invalid_content(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    with pytest.raises(InvalidContent) as caught:
        await publisher.publish(channel, outgoing("漢" * 141), MemoryJournal(), proxy=None)  # weighs 282
    assert not caught.value.spam
    assert channel.access_token not in str(caught.value)
    await publisher.publish(channel, outgoing("漢" * 140), MemoryJournal(), proxy=None)
    assert len(posts(sandbox)) == 1


async def test_expired_token_is_auth_expired(sandbox: Sandbox) -> None:
    await faults.refused(await rig(sandbox), "expire_token", "create_tweet", AuthExpired)


async def test_revoked_token_fails_the_refresh_too(sandbox: Sandbox) -> None:
    publisher, channel, connected = await setup(sandbox)
    # X answers a bare 401 for expired and revoked alike: the refresh that follows tells them apart.
    drill = faults.Rig(sandbox, publisher, channel, outgoing("Revoked"))
    await faults.refused(drill, "revoke_token", "create_tweet", AuthExpired)
    assert connected.tokens.refresh_token is not None
    with pytest.raises(AuthRevoked):
        await connected.connector.refresh(refresh_token=connected.tokens.refresh_token, proxy=None)


async def test_rate_limit_is_rate_limited_with_the_reset_hint(sandbox: Sandbox) -> None:
    retry_after_s = await faults.rate_limited(await rig(sandbox), "create_tweet", retry_after_s=120)
    assert retry_after_s is not None
    assert 100 <= retry_after_s <= 125


async def test_server_error_is_transient_and_the_retry_posts_once(sandbox: Sandbox) -> None:
    drill = await rig(sandbox)
    await faults.transient_then_once(drill, "create_tweet", 503)
    assert drill.calls("user_tweets") == 1  # the retry looked before posting again


async def test_timeout_after_sending_is_unconfirmed_and_the_check_finds_the_post(sandbox: Sandbox) -> None:
    await faults.unconfirmed_then_found(await rig(sandbox), "create_tweet")


async def test_metrics_read_public_metrics(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    published = await publisher.publish(channel, outgoing("Count me"), MemoryJournal(), proxy=None)
    metrics = await publisher.metrics(channel, published, proxy=None)
    assert metrics.impressions is not None
    assert metrics.impressions >= 10
    assert metrics.likes == metrics.impressions // 10
    assert metrics.reposts is not None
    assert metrics.saves is not None
    assert metrics.views is None  # X reports no separate view counter


async def test_text_only_media_rules_are_checked_before_any_call(sandbox: Sandbox) -> None:
    publisher, channel, _ = await setup(sandbox)
    before = len(sandbox.requests(X))
    with pytest.raises(InvalidContent):
        await publisher.publish(channel, outgoing("  "), MemoryJournal(), proxy=None)
    video_and_image = outgoing("x", sample(sandbox, "sample.mp4", "video"), sample(sandbox, "sample.png"))
    with pytest.raises(InvalidContent):
        await publisher.publish(channel, video_and_image, MemoryJournal(), proxy=None)
    assert len(sandbox.requests(X)) == before


# --- sandbox-only ---------------------------------------------------------------------------------------------


def test_weighted_length_follows_twitter_text() -> None:
    assert weighted_length("a" * 280) == 280
    assert weighted_length("漢") == 2
    assert weighted_length("👍\ufe0f") == 2
    assert weighted_length("👨\u200d👩\u200d👧") == 2  # a ZWJ family is one emoji
    assert weighted_length("🇫🇷 ©") == 2 + 1 + 1  # a flag is one emoji; a lone © weighs as Latin-1
    assert weighted_length("see https://example.com/a/very/long/path?x=1") == 4 + 23


def test_texts_are_read_back_escaped_with_tco_links() -> None:
    post = SandboxPost("x", "1", "u", "a & b https://example.com", 0.0, media_ids=["m"])
    shown = display_text(post)
    assert shown.startswith("a &amp; b https://t.co/")
    assert shown.count("https://t.co/") == 2


async def test_sandbox_refuses_unready_media_and_enforces_the_window() -> None:
    async with make_client() as client:
        token = await _sandbox_token(client)
        auth = {"Authorization": f"Bearer {token}"}
        init = await client.post(
            "/x/2/media/upload/initialize",
            json={"media_type": "video/mp4", "total_bytes": 4, "media_category": "tweet_video"},
            headers=auth,
        )
        media_id = init.json()["data"]["id"]
        await client.post(
            f"/x/2/media/upload/{media_id}/append",
            data={"segment_index": "0"},
            files={"media": ("c", b"abcd", "application/octet-stream")},
            headers=auth,
        )
        final = await client.post(f"/x/2/media/upload/{media_id}/finalize", headers=auth)
        assert final.json()["data"]["processing_info"]["state"] == "pending"
        early = await client.post("/x/2/tweets", json={"text": "v", "media": {"media_ids": [media_id]}}, headers=auth)
        assert early.status_code == 400
        for n in range(100):
            assert (await client.post("/x/2/tweets", json={"text": f"n{n}"}, headers=auth)).status_code == 201
        over = await client.post("/x/2/tweets", json={"text": "one too many"}, headers=auth)
        assert over.status_code == 429
        assert over.headers["x-rate-limit-remaining"] == "0"
        assert int(over.headers["x-rate-limit-reset"]) > time.time() + 800


async def _sandbox_token(client: httpx.AsyncClient) -> str:
    verifier, challenge = pkce_pair()
    authorize = await client.get(
        "/x/i/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "x-client-id",
            "redirect_uri": REDIRECT,
            "scope": "tweet.read tweet.write users.read media.write",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    code = redirect_query(authorize)["code"]
    token = await client.post(
        "/x/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        auth=("x-client-id", "x-client-secret"),
    )
    value: str = token.json()["access_token"]
    return value
