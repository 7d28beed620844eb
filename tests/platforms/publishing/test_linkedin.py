"""LinkedIn publishing against the real sandbox server: posts with text and images (initializeUpload → PUT → poll),
the URN from `x-restli-id`, the journal and the author-posts lookup that keep a re-run from posting twice, errors,
proxies and social-action metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.platforms.publishing.linkedin import IMAGE, POST, SENT, LinkedInPublisher, little_text
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    Duplicate,
    InvalidContent,
    ProxySpec,
)
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaItem, OutgoingPost, PublishingChannel
from sandbox.publishing.linkedin import member_text
from tests.platforms.conftest import Sandbox, connect
from tests.platforms.publishing import faults
from tests.platforms.publishing.journal import MemoryJournal
from tests.sandbox.helpers import REDIRECT, make_client, redirect_query

LI = Platform.LINKEDIN


async def setup(sandbox: Sandbox, proxy: ProxySpec | None = None) -> tuple[LinkedInPublisher, PublishingChannel]:
    connected = await connect(sandbox, LI, proxy=proxy)
    profile = await connected.connector.profile(access_token=connected.tokens.access_token, proxy=proxy)
    publisher = LinkedInPublisher(sandbox.endpoints()[LI])
    publisher.poll_interval_s = 0.05
    return publisher, PublishingChannel(profile.internal_id, profile.handle, connected.tokens.access_token)


async def rig(sandbox: Sandbox, proxy: ProxySpec | None = None, post: OutgoingPost | None = None) -> faults.Rig:
    publisher, channel = await setup(sandbox, proxy)
    return faults.Rig(sandbox, publisher, channel, post or outgoing("Under a fault"))


def outgoing(text: str, *media: MediaItem, key: str = "post-1:integration-1") -> OutgoingPost:
    return OutgoingPost(key=key, text=text, first_attempt_at=datetime.now(UTC), media=media)


def sample(sandbox: Sandbox, name: str, alt: str | None = None) -> MediaItem:
    return MediaItem(f"{sandbox.url}/_sandbox/media/{name}", "image", alt)


def posts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return faults.posts(sandbox, LI)


def calls(sandbox: Sandbox, endpoint: str) -> int:
    return faults.calls(sandbox, LI, endpoint)


async def test_publish_text_returns_the_urn_from_the_header(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    text = "Launch day (finally) #launch with *stars* & <brackets>"
    published = await publisher.publish(channel, outgoing(text), journal, proxy=None)
    assert published.external_id.startswith("urn:li:share:")
    assert published.url == f"https://www.linkedin.com/feed/update/{published.external_id}"
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    # Members read exactly what we wrote: the little-text escaping round-trips.
    assert stored["text"] == text
    assert stored["extra"]["commentary"] == little_text(text)
    assert "{hashtag|\\#|launch}" in stored["extra"]["commentary"]
    assert journal.values[POST] == published.external_id


async def test_publish_images_waits_until_available(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    post = outgoing("Gallery", sample(sandbox, "sample.png", "a dot"), sample(sandbox, "sample.jpg"))
    published = await publisher.publish(channel, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert stored["id"] == published.external_id
    urns = [journal.values[IMAGE.format(index=i)] for i in range(2)]
    assert stored["media_ids"] == urns
    assert stored["extra"]["content"]["multiImage"]["images"][0] == {"id": urns[0], "altText": "a dot"}
    assert calls(sandbox, "image_upload") == 2
    assert calls(sandbox, "image") >= 3  # polled PROCESSING at least once before AVAILABLE


async def test_single_image_uses_content_media(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    await publisher.publish(channel, outgoing("One", sample(sandbox, "sample.jpg")), MemoryJournal(), proxy=None)
    [stored] = posts(sandbox)
    assert stored["extra"]["content"] == {"media": {"id": stored["media_ids"][0]}}


@pytest.mark.parametrize("kind", faults.PROXIES)
async def test_publish_goes_through_the_proxy(sandbox: Sandbox, kind: str, request: pytest.FixtureRequest) -> None:
    # JPEG, not PNG: pproxy's HTTP mode re-parses any client chunk holding CRLF as a request line and drops the
    # connection when that line is not UTF-8, which the PNG signature (89 'PNG' CR LF) trips; real proxies do not.
    post = outgoing("Via proxy", sample(sandbox, "sample.jpg"))
    # The byte upload to LinkedIn's upload URL and the create call both come from the proxy process.
    await faults.through_proxy(
        request,
        kind,
        lambda spec: rig(sandbox, spec, post),
        ("image_upload", "create_post"),
        ("^/linkedin/dms-uploads/", "^/linkedin/rest/posts$"),
    )


async def test_rerun_after_crash_before_the_post_reuses_the_image(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    journal = MemoryJournal()
    post = outgoing("Crash after upload", sample(sandbox, "sample.png"))
    urn = await publisher._image(channel, post.media[0], 0, journal, proxy=None)
    published = await publisher.publish(channel, post, journal, proxy=None)
    [stored] = posts(sandbox)
    assert (stored["id"], stored["media_ids"]) == (published.external_id, [urn])
    assert calls(sandbox, "initialize_image_upload") == 1


async def test_rerun_after_crash_after_the_post_finds_it(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    post = outgoing("Posted, then the worker died (really)")
    created = await publisher.publish(channel, post, MemoryJournal(), proxy=None)
    crashed = MemoryJournal({SENT: datetime.now(UTC).isoformat()})
    assert await publisher.publish(channel, post, crashed, proxy=None) == created
    assert crashed.values[POST] == created.external_id
    assert len(posts(sandbox)) == 1
    assert calls(sandbox, "create_post") == 1


async def test_find_published_pages_through_the_author_posts(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    publisher.page_size = 2
    target = outgoing("The one we look for")
    created = await publisher.publish(channel, target, MemoryJournal(), proxy=None)
    for n in range(3):
        await publisher.publish(channel, outgoing(f"Later post {n}", key=f"k{n}"), MemoryJournal(), proxy=None)
    assert await publisher.find_published(channel, target, MemoryJournal(), proxy=None) == created
    assert calls(sandbox, "find_posts") == 2
    never = outgoing("Never posted", key="other")
    assert await publisher.find_published(channel, never, MemoryJournal(), proxy=None) is None


async def test_same_text_twice_is_duplicate(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    await publisher.publish(channel, outgoing("Only once"), MemoryJournal(), proxy=None)
    with pytest.raises(Duplicate):
        await publisher.publish(channel, outgoing("Only once", key="k2"), MemoryJournal(), proxy=None)
    sandbox.fault(LI, "duplicate", endpoint="create_post")
    with pytest.raises(Duplicate):
        await publisher.publish(channel, outgoing("Brand new"), MemoryJournal(), proxy=None)
    assert len(posts(sandbox)) == 1


async def test_too_long_is_invalid_content(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    with pytest.raises(InvalidContent):
        await publisher.publish(channel, outgoing("a" * 3001), MemoryJournal(), proxy=None)
    # Escapes do not count: 3,000 reserved characters are 6,000 of commentary but 3,000 of text.
    await publisher.publish(channel, outgoing("(" * 3000), MemoryJournal(), proxy=None)
    # LinkedIn counts UTF-16 code units: 1,501 emoji are 3,002.
    with pytest.raises(InvalidContent):
        await publisher.publish(channel, outgoing("😀" * 1501), MemoryJournal(), proxy=None)
    assert len(posts(sandbox)) == 1


@pytest.mark.parametrize(("kind", "error"), [("expire_token", AuthExpired), ("revoke_token", AuthRevoked)])
async def test_token_problems(sandbox: Sandbox, kind: str, error: type[Exception]) -> None:
    await faults.refused(await rig(sandbox), kind, "create_post", error)


async def test_rate_limit_waits_until_midnight_utc(sandbox: Sandbox) -> None:
    retry_after_s = await faults.rate_limited(await rig(sandbox), "create_post")
    now = datetime.now(UTC)
    to_midnight = 86_400 - (now.hour * 3600 + now.minute * 60 + now.second)
    assert retry_after_s is not None
    assert abs(retry_after_s - to_midnight) <= 5


async def test_server_error_is_transient_and_the_retry_posts_once(sandbox: Sandbox) -> None:
    drill = await rig(sandbox)
    await faults.transient_then_once(drill, "create_post", 502)
    assert drill.calls("find_posts") == 1


async def test_timeout_after_sending_is_unconfirmed_and_the_check_finds_the_post(sandbox: Sandbox) -> None:
    await faults.unconfirmed_then_found(await rig(sandbox), "create_post")


async def test_metrics_read_social_actions(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    published = await publisher.publish(channel, outgoing("Count me"), MemoryJournal(), proxy=None)
    metrics = await publisher.metrics(channel, published, proxy=None)
    assert metrics.likes is not None
    assert metrics.likes >= 1
    assert metrics.replies == metrics.likes // 5
    assert metrics.impressions is None


async def test_video_is_refused_before_any_call(sandbox: Sandbox) -> None:
    publisher, channel = await setup(sandbox)
    before = len(sandbox.requests(LI))
    video = MediaItem(f"{sandbox.url}/_sandbox/media/sample.mp4", "video")
    with pytest.raises(InvalidContent):
        await publisher.publish(channel, outgoing("clip", video), MemoryJournal(), proxy=None)
    assert len(sandbox.requests(LI)) == before


# --- sandbox-only ---------------------------------------------------------------------------------------------


def test_little_text_round_trips() -> None:
    for text in ("a (b) [c] {d} <e> @f *g* _h_ ~i~ | \\ #tag #another_one", "no specials", "#start and end#"):
        assert member_text(little_text(text)) == text


async def test_rest_calls_need_a_version_and_posts_an_available_image() -> None:
    async with make_client() as client:
        token = await _sandbox_token(client)
        auth = {"Authorization": f"Bearer {token}"}
        body = {
            "author": "urn:li:person:linkedin-user-1",
            "commentary": "hi",
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED",
        }
        missing = await client.post("/linkedin/rest/posts", json=body, headers=auth)
        assert (missing.status_code, missing.json()["code"]) == (400, "VERSION_MISSING")
        versioned = {**auth, "Linkedin-Version": "202610"}
        init = await client.post(
            "/linkedin/rest/images",
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": body["author"]}},
            headers=versioned,
        )
        urn = init.json()["value"]["image"]
        waiting = await client.post(
            "/linkedin/rest/posts", json={**body, "content": {"media": {"id": urn}}}, headers=versioned
        )
        assert waiting.status_code == 422
        other = await client.post(
            "/linkedin/rest/posts", json={**body, "author": "urn:li:person:someone-else"}, headers=versioned
        )
        assert (other.status_code, other.json()["code"]) == (403, "ACCESS_DENIED")


async def _sandbox_token(client: httpx.AsyncClient) -> str:
    authorize = await client.get(
        "/linkedin/oauth/v2/authorization",
        params={
            "response_type": "code",
            "client_id": "linkedin-client-id",
            "redirect_uri": REDIRECT,
            "scope": "openid profile w_member_social",
            "state": "s",
        },
    )
    code = redirect_query(authorize)["code"]
    token = await client.post(
        "/linkedin/oauth/v2/accessToken",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "linkedin-client-id",
            "client_secret": "linkedin-client-secret",
        },
    )
    value: str = token.json()["access_token"]
    return value
