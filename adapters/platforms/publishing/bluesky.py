"""Bluesky (AT Protocol): the publishing side.

    GET  com.atproto.repo.getRecord (our rkey)  → already there? that is our post
    POST com.atproto.repo.uploadBlob per image   → blob refs for an app.bsky.embed.images embed
    POST com.atproto.repo.createRecord {repo: did, collection: app.bsky.feed.post, rkey, record}

The record key is derived from the delivery key alone (`record_key`), so every attempt of a delivery writes the same
at:// URI and the PDS itself refuses a second record there. That makes the whole flow safe to repeat: nothing needs
journaling (uploaded blobs are content-addressed, re-uploading one gives the same ref) and the check-before-retry
is one getRecord, whose answer is authoritative. The channel's access token is the session's accessJwt and its
internal_id the account's DID; channel.api_base names the account's own PDS when it is not the default one."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.platforms.base import bearer, json_body, require_str, send
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.publishing.media import fetch_media
from domain.channels.connectors import ConnectorError, Duplicate, InvalidContent, ProxySpec, Transient
from domain.identity.platforms import Platform
from domain.publishing.publisher import (
    MediaItem,
    OutgoingPost,
    PostMetrics,
    PublishedPost,
    PublishingChannel,
    PublishJournal,
)

COLLECTION = "app.bsky.feed.post"
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000  # the app.bsky.embed.images lexicon's limit per image
_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
# TIDs carry a microsecond timestamp; ours are spread over the 2^38 µs (~3 days) after 2024-01-01 so that they look
# like ordinary past TIDs while depending on nothing but the delivery key.
_TID_EPOCH_US = 1_704_067_200 * 1_000_000
_URL = re.compile(r"https?://[^\s<>\"'`]+")
_AUTH_CODES = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing"})


class _NotFound(ConnectorError):
    """getRecord: no record under that key."""


class _Refused(ConnectorError):
    """createRecord was refused; `error` is what to raise unless the record turns out to exist (it is ours)."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(str(error))
        self.error = error


def record_key(delivery_key: str) -> str:
    """A valid TID (13 base32-sortable characters, top bit clear) derived from the delivery key alone: 38 bits of
    timestamp and the 10-bit clock id come from its SHA-256, so two deliveries share a key with odds of ~2^-48."""
    digest = int.from_bytes(hashlib.sha256(delivery_key.encode()).digest()[:8], "big")
    micros = _TID_EPOCH_US + ((digest >> 10) & ((1 << 38) - 1))
    value = (micros << 10) | (digest & 0x3FF)
    return "".join(_B32_SORTABLE[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def link_facets(text: str) -> list[dict[str, Any]]:
    """Bluesky shows a URL as a link only with a facet giving its UTF-8 byte range."""
    facets = []
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?)")
        start = len(text[: match.start()].encode())
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(url.encode())},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
            }
        )
    return facets


def _code(body: dict[str, Any]) -> str:
    error = body.get("error")
    return error if isinstance(error, str) else ""


def _classify_create(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    code = _code(body)
    if response.status_code != 400 or code in _AUTH_CODES:
        return None  # auth, rate limit and 5xx: the shared mapping
    detail = str(body.get("message") or "")
    if "duplicate" in detail.lower():  # the sandbox's stand-in; Bluesky documents no duplicate refusal
        return _Refused(Duplicate(message))
    return _Refused(InvalidContent(message))


def _classify_get(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    return _NotFound(message) if _code(body) == "RecordNotFound" else None


class BlueskyPublisher:
    platform = Platform.BLUESKY

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        rkey = record_key(post.key)
        existing = await self._get_record(channel, rkey, proxy)
        if existing is not None:
            return existing  # an earlier attempt wrote it
        record: dict[str, Any] = {
            "$type": COLLECTION,
            "text": post.text,
            "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        if facets := link_facets(post.text):
            record["facets"] = facets
        langs = post.settings.get("langs")
        if isinstance(langs, list | tuple) and langs:
            record["langs"] = [str(lang) for lang in langs]
        if post.media:
            record["embed"] = await self._images(channel, post.media, proxy)
        try:
            response = await send(
                self.platform,
                "POST",
                self._xrpc(channel, "com.atproto.repo.createRecord"),
                proxy=proxy,
                unsafe=True,
                headers=bearer(channel.access_token),
                json={"repo": channel.internal_id, "collection": COLLECTION, "rkey": rkey, "record": record},
                classify=_classify_create,
            )
        except _Refused as refused:
            # "Record already exists" means an earlier attempt of this delivery won the race: that is our post.
            existing = await self._get_record(channel, rkey, proxy)
            if existing is not None:
                return existing
            raise refused.error from None
        uri = require_str(self.platform, json_body(self.platform, response), "uri")
        return PublishedPost(uri, self._url(channel, rkey))

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        # The repo answers for itself: no record under our rkey means this delivery made no post.
        return await self._get_record(channel, record_key(post.key), proxy)

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        response = await send(
            self.platform,
            "GET",
            self._xrpc(channel, "app.bsky.feed.getPosts"),
            proxy=proxy,
            params={"uris": published.external_id},
            headers=bearer(channel.access_token),
        )
        views = json_body(self.platform, response).get("posts")
        view = next((v for v in views if isinstance(v, dict)), None) if isinstance(views, list) else None
        if view is None:
            return PostMetrics()
        return PostMetrics(
            likes=_opt_int(view.get("likeCount")),
            reposts=_opt_int(view.get("repostCount")),
            replies=_opt_int(view.get("replyCount")),
            quotes=_opt_int(view.get("quoteCount")),
        )

    # --- steps ---------------------------------------------------------------------------------------------------

    async def _get_record(self, channel: PublishingChannel, rkey: str, proxy: ProxySpec | None) -> PublishedPost | None:
        # Repos are public: reading a record needs no session, so an expired one cannot hide our post.
        try:
            response = await send(
                self.platform,
                "GET",
                self._xrpc(channel, "com.atproto.repo.getRecord"),
                proxy=proxy,
                params={"repo": channel.internal_id, "collection": COLLECTION, "rkey": rkey},
                classify=_classify_get,
            )
        except _NotFound:
            return None
        uri = require_str(self.platform, json_body(self.platform, response), "uri")
        return PublishedPost(uri, self._url(channel, rkey))

    async def _images(
        self, channel: PublishingChannel, media: tuple[MediaItem, ...], proxy: ProxySpec | None
    ) -> dict[str, Any]:
        if len(media) > MAX_IMAGES or any(m.kind == "video" for m in media):
            raise InvalidContent(f"bluesky: up to {MAX_IMAGES} images per post, no video")
        images = []
        for item in media:
            content, mime = await self._download(item.url, proxy)
            if len(content) > MAX_IMAGE_BYTES:
                raise InvalidContent(f"bluesky: image of {len(content)} bytes is over the {MAX_IMAGE_BYTES} limit")
            response = await send(
                self.platform,
                "POST",
                self._xrpc(channel, "com.atproto.repo.uploadBlob"),
                proxy=proxy,
                headers={**bearer(channel.access_token), "Content-Type": mime},
                content=content,
                classify=_classify_blob,
            )
            blob = json_body(self.platform, response).get("blob")
            if not isinstance(blob, dict):
                raise Transient("bluesky: uploadBlob answered without a blob")
            images.append({"alt": item.alt_text or "", "image": blob})
        return {"$type": "app.bsky.embed.images", "images": images}

    async def _download(self, url: str, proxy: ProxySpec | None) -> tuple[bytes, str]:
        content, mime = await fetch_media(self.platform, url, proxy)
        if not mime.startswith("image/"):
            raise InvalidContent("bluesky: the media is not an image")
        return content, mime

    def _xrpc(self, channel: PublishingChannel, method: str) -> str:
        return f"{(channel.api_base or self.e.api_base).rstrip('/')}/xrpc/{method}"

    def _url(self, channel: PublishingChannel, rkey: str) -> str:
        return f"https://bsky.app/profile/{channel.internal_id}/post/{rkey}"


def _classify_blob(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    if response.status_code in (400, 413) and _code(body) not in _AUTH_CODES:
        return InvalidContent(message)
    return None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
