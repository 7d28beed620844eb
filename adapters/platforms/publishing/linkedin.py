"""LinkedIn (Posts API): member posts with text and up to 20 images (GIFs go through the Images API too).

Flow: per image `POST /rest/images?action=initializeUpload` → PUT the bytes (downloaded through the account's proxy)
to the returned upload URL → journal the image URN → poll `GET /rest/images/{urn}` until AVAILABLE; then
`POST /rest/posts`, whose 201 carries the post URN in the `x-restli-id` header.

LinkedIn has no idempotency key: the journal marks the post as sent before `POST /rest/posts`; a run that finds the
mark without a URN lists the author's posts (`GET /rest/posts?q=author`) for this exact commentary created since the
first attempt. LinkedIn also refuses the same commentary twice (422 DUPLICATE_POST). Reading a member's posts needs
LinkedIn's restricted r_member_social permission: without it the lookup answers 403, which means "cannot tell"."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx

from adapters.platforms.base import DEFAULT_TIMEOUT_S, bearer, json_body, require_str, send
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.publishing.media import fetch_media
from adapters.platforms.publishing.sent_marker import chosen, publish_once
from domain.channels.connectors import (
    ConnectorError,
    Duplicate,
    InvalidContent,
    ProxySpec,
    Transient,
    Unconfirmed,
)
from domain.identity.platforms import Platform
from domain.publishing.publisher import (
    MediaItem,
    OutgoingPost,
    PostMetrics,
    PublishedPost,
    PublishingChannel,
    PublishJournal,
)

SENT = "linkedin.post.sent"
POST = "linkedin.post.urn"
IMAGE = "linkedin.image.{index}"
CLOCK_SKEW = timedelta(minutes=2)
MAX_IMAGES = 20
IMAGE_BYTES = 36_152_320  # LinkedIn's documented image size limit
# "Little text" reserves these characters; unescaped, LinkedIn drops or misreads the text around them.
_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


class LinkedInPublisher:
    platform = Platform.LINKEDIN
    # LinkedIn keeps each monthly API version for about a year; bump it with the endpoints' other settings.
    api_version = "202610"
    poll_timeout_s = 60.0
    poll_interval_s = 1.0
    page_size = 50
    lookup_pages = 5
    # How long the creating call may take before its outcome counts as unknown (Unconfirmed, never blind-retried).
    create_timeout_s = DEFAULT_TIMEOUT_S

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        done = journal.get(POST)
        if done:
            return _published(done)
        _check_content(post)

        async def upload() -> list[str]:
            return [await self._image(channel, item, i, journal, proxy) for i, item in enumerate(post.media)]

        return await publish_once(
            journal, sent_key=SENT, post_key=POST,
            look_up=lambda: self.find_published(channel, post, journal, proxy=proxy), upload=upload,
            create=lambda images: self._create(channel, post, images, proxy), published=_published,
        )  # fmt: skip

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        done = journal.get(POST)
        if done:
            return _published(done)
        author = _author(channel)
        commentary = little_text(post.text)
        since_ms = (post.first_attempt_at - CLOCK_SKEW).timestamp() * 1000
        matches: list[str] = []
        for page in range(self.lookup_pages):
            params = {
                "q": "author",
                "author": author,
                "sortBy": "CREATED",
                "start": str(page * self.page_size),
                "count": str(self.page_size),
            }
            response = await self._send(channel, "GET", "/rest/posts", proxy, params=params, classify=_lookup_refusal)
            body = json_body(self.platform, response)
            elements = [e for e in body.get("elements") or [] if isinstance(e, dict)]
            recent = [e for e in elements if _number(e.get("createdAt")) >= since_ms]
            matches += [str(e["id"]) for e in recent if e.get("commentary") == commentary and e.get("id")]
            total = (body.get("paging") or {}).get("total")
            seen = (page + 1) * self.page_size
            last = len(elements) < self.page_size or (isinstance(total, int) and seen >= total)
            if last or len(recent) < len(elements):  # sorted newest first: older posts end the search
                return await _chosen(post, journal, matches)
        raise Unconfirmed(f"linkedin: more than {self.lookup_pages} pages of posts since the first attempt")

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        path = f"/rest/socialActions/{quote(published.external_id, safe='')}"
        body = json_body(self.platform, await self._send(channel, "GET", path, proxy))
        likes = (body.get("likesSummary") or {}).get("totalLikes")
        comments = (body.get("commentsSummary") or {}).get("aggregatedTotalComments")
        return PostMetrics(likes=_opt_int(likes), replies=_opt_int(comments))

    # --- steps --------------------------------------------------------------------------------------------------

    async def _create(
        self, channel: PublishingChannel, post: OutgoingPost, images: list[str], proxy: ProxySpec | None
    ) -> str:
        body: dict[str, Any] = {
            "author": _author(channel),
            "commentary": little_text(post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        described = [{"id": urn, **_alt(item)} for urn, item in zip(images, post.media, strict=True)]
        if len(described) == 1:
            body["content"] = {"media": described[0]}
        elif described:
            body["content"] = {"multiImage": {"images": described}}
        response = await self._send(
            channel,
            "POST",
            "/rest/posts",
            proxy,
            unsafe=True,
            timeout=self.create_timeout_s,
            classify=_classify,
            json=body,
        )
        urn: str | None = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
        if not urn:
            # Created, but we cannot say which post it is: the next run's lookup will find it.
            raise Unconfirmed("linkedin: post created without an x-restli-id header")
        return urn

    async def _image(
        self, channel: PublishingChannel, item: MediaItem, index: int, journal: PublishJournal, proxy: ProxySpec | None
    ) -> str:
        key = IMAGE.format(index=index)
        urn = journal.get(key)
        if urn is None:
            content, _ = await fetch_media(self.platform, item.url, proxy, kind=item.kind, max_bytes=IMAGE_BYTES)
            request = {"initializeUploadRequest": {"owner": _author(channel)}}
            response = await self._send(
                channel, "POST", "/rest/images", proxy, params={"action": "initializeUpload"}, json=request
            )
            value = json_body(self.platform, response).get("value") or {}
            urn = require_str(self.platform, value, "image")
            upload_url = require_str(self.platform, value, "uploadUrl")
            # An upload that dies half-way leaves an orphan image and no post: starting over is harmless, so the
            # URN is journaled only once its bytes are in.
            await send(
                self.platform,
                "PUT",
                upload_url,
                proxy=proxy,
                classify=_classify,
                content=content,
                headers={**bearer(channel.access_token), "Content-Type": "application/octet-stream"},
            )
            await journal.record(key, urn)
        await self._until_available(channel, urn, proxy)
        return urn

    async def _until_available(self, channel: PublishingChannel, urn: str, proxy: ProxySpec | None) -> None:
        deadline = time.monotonic() + self.poll_timeout_s
        while True:
            response = await self._send(channel, "GET", f"/rest/images/{quote(urn, safe='')}", proxy)
            status = json_body(self.platform, response).get("status")
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                raise InvalidContent(f"linkedin: image {urn} could not be processed")
            if time.monotonic() >= deadline:
                raise Transient(f"linkedin: image {urn} still {status} after {self.poll_timeout_s:.0f}s")
            await asyncio.sleep(self.poll_interval_s)

    async def _send(
        self, channel: PublishingChannel, method: str, path: str, proxy: ProxySpec | None, **kwargs: Any
    ) -> httpx.Response:
        headers = {
            **bearer(channel.access_token),
            "Linkedin-Version": self.api_version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        return await send(self.platform, method, f"{self.e.api_base}{path}", proxy=proxy, headers=headers, **kwargs)


def little_text(text: str) -> str:
    """Commentary in LinkedIn's little-text format: #tags as hashtag templates, reserved characters escaped."""
    parts: list[str] = []
    last = 0
    for match in _HASHTAG.finditer(text):
        parts.append(_RESERVED.sub(r"\\\1", text[last : match.start()]))
        parts.append(f"{{hashtag|\\#|{match.group(1)}}}")
        last = match.end()
    parts.append(_RESERVED.sub(r"\\\1", text[last:]))
    return "".join(parts)


def _check_content(post: OutgoingPost) -> None:
    if not post.text.strip() and not post.media:
        raise InvalidContent("linkedin: a post needs text or images")
    if any(m.kind == "video" for m in post.media):
        raise InvalidContent("linkedin: video posts are not supported by this publisher")
    if len(post.media) > MAX_IMAGES:
        raise InvalidContent(f"linkedin: at most {MAX_IMAGES} images per post")


def _classify(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    """422 DUPLICATE_POST is a duplicate; any other 422 is LinkedIn refusing the content (length, media...)."""
    if response.status_code == 422 and body.get("code") == "DUPLICATE_POST":
        return Duplicate(message)
    if response.status_code == 422:
        return InvalidContent(message)
    return None


def _lookup_refusal(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    # 403 on the finder: the app lacks r_member_social, so LinkedIn will not say whether the post exists.
    if response.status_code == 403:
        return Unconfirmed(f"{message} (cannot list the author's posts)")
    return None


async def _chosen(post: OutgoingPost, journal: PublishJournal, matches: list[str]) -> PublishedPost | None:
    return await chosen(
        post, journal, matches, post_key=POST, published=_published,
        no_text="linkedin: image-only posts since the first attempt exist; cannot tell which is ours",
    )  # fmt: skip


def _author(channel: PublishingChannel) -> str:
    # The connection side stores the member id (`sub`); an organization channel stores its full URN.
    return channel.internal_id if channel.internal_id.startswith("urn:li:") else f"urn:li:person:{channel.internal_id}"


def _alt(item: MediaItem) -> dict[str, str]:
    return {"altText": item.alt_text} if item.alt_text else {}


def _published(urn: str) -> PublishedPost:
    return PublishedPost(external_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}")


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
