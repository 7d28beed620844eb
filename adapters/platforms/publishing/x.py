"""X (API v2): tweets with up to four images, or one GIF or video.

Flow: each media file is downloaded through the account's proxy and uploaded (`POST /2/media/upload` for images, the
chunked initialize/append/finalize flow for GIFs and videos, then `processing_info` polled until it succeeds); every
finished media id goes to the journal before the tweet that uses it; then `POST /2/tweets`.

X has no idempotency key, so the journal marks the tweet as sent *before* `POST /2/tweets`. A run that finds that mark
without a tweet id first searches the user's recent tweets (`GET /2/users/:id/tweets?start_time=`) for this text,
created since the first attempt; X also refuses the same text twice (403 duplicate content), which backs this up."""

from __future__ import annotations

import asyncio
import html
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from adapters.platforms.base import DEFAULT_TIMEOUT_S, bearer, json_body, require_str, send
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.publishing.media import fetch_media
from adapters.platforms.publishing.sent_marker import chosen, publish_once
from domain.channels.connectors import (
    ConnectorError,
    Duplicate,
    InvalidContent,
    InvalidRequest,
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

SENT = "x.tweet.sent"  # ISO time the create call was (about to be) sent
TWEET = "x.tweet.id"
MEDIA = "x.media.{index}"
# Tweets can only be this delivery's if created after its first attempt; allow for clock skew between us and X.
CLOCK_SKEW = timedelta(minutes=2)
SIZE_LIMITS = {"image": 5 * 1024 * 1024, "gif": 15 * 1024 * 1024, "video": 512 * 1024 * 1024}
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


class XPublisher:
    platform = Platform.X
    # Bounded waits: media processing is polled at X's check_after_secs, capped, for at most poll_timeout_s.
    poll_timeout_s = 120.0
    max_poll_interval_s = 5.0
    chunk_bytes = 4 * 1024 * 1024
    lookup_pages = 5
    # How long the creating call may take before its outcome counts as unknown (Unconfirmed, never blind-retried).
    create_timeout_s = DEFAULT_TIMEOUT_S

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        done = journal.get(TWEET)
        if done:
            return self._published(channel, done)
        _check_content(post)

        async def upload() -> list[str]:
            return [await self._media(channel, item, i, journal, proxy) for i, item in enumerate(post.media)]

        return await publish_once(
            journal, sent_key=SENT, post_key=TWEET,
            look_up=lambda: self.find_published(channel, post, journal, proxy=proxy), upload=upload,
            create=lambda media_ids: self._create(channel, post.text, media_ids, proxy),
            published=lambda tweet_id: self._published(channel, tweet_id),
        )  # fmt: skip

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        done = journal.get(TWEET)
        if done:
            return self._published(channel, done)
        params: dict[str, str] = {
            "start_time": _x_time(post.first_attempt_at - CLOCK_SKEW),
            "max_results": "100",
            "tweet.fields": "created_at",
        }
        matches: list[str] = []
        for _ in range(self.lookup_pages):
            body = json_body(
                self.platform, await self._get(f"/2/users/{channel.internal_id}/tweets", channel, params, proxy)
            )
            tweets = [t for t in body.get("data") or [] if isinstance(t, dict)]
            matches += [
                str(t["id"]) for t in tweets if _same_text(post.text, str(t.get("text") or ""), bool(post.media))
            ]
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return await self._chosen(channel, post, journal, matches)
            params["pagination_token"] = str(token)
        raise Unconfirmed(f"x: more than {self.lookup_pages} pages of tweets since the first attempt; cannot tell")

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        params = {"tweet.fields": "public_metrics"}
        body = json_body(self.platform, await self._get(f"/2/tweets/{published.external_id}", channel, params, proxy))
        data = body.get("data")
        if not isinstance(data, dict):
            raise InvalidRequest(f"x: tweet {published.external_id} not found")
        m = data.get("public_metrics") or {}
        return PostMetrics(
            impressions=_opt_int(m.get("impression_count")),
            likes=_opt_int(m.get("like_count")),
            reposts=_opt_int(m.get("retweet_count")),
            replies=_opt_int(m.get("reply_count")),
            quotes=_opt_int(m.get("quote_count")),
            saves=_opt_int(m.get("bookmark_count")),
        )

    # --- steps --------------------------------------------------------------------------------------------------

    async def _create(
        self, channel: PublishingChannel, text: str, media_ids: list[str], proxy: ProxySpec | None
    ) -> str:
        payload: dict[str, Any] = {}
        if text:
            payload["text"] = text
        if media_ids:
            payload["media"] = {"media_ids": media_ids}
        response = await send(
            self.platform,
            "POST",
            f"{self.e.api_base}/2/tweets",
            proxy=proxy,
            unsafe=True,
            timeout=self.create_timeout_s,
            classify=_classify,
            json=payload,
            headers=bearer(channel.access_token),
        )
        return require_str(self.platform, _data(self.platform, response), "id")

    async def _media(
        self, channel: PublishingChannel, item: MediaItem, index: int, journal: PublishJournal, proxy: ProxySpec | None
    ) -> str:
        key = MEDIA.format(index=index)
        media_id = journal.get(key)
        # X processes videos and GIFs asynchronously; images are ready once uploaded (and STATUS is only meant
        # for media whose upload answered with processing_info).
        processing = item.kind != "image"
        if media_id is None:
            content, content_type = await fetch_media(
                self.platform, item.url, proxy, kind=item.kind, max_bytes=SIZE_LIMITS[item.kind]
            )
            if item.kind == "image":
                data = await self._upload_image(channel, content, content_type, proxy)
            else:
                data = await self._upload_chunked(channel, item, content, content_type, proxy)
            media_id = require_str(self.platform, data, "id")
            processing = (_processing(data) or {}).get("state", "succeeded") != "succeeded"
            await journal.record(key, media_id)
        if processing:
            await self._until_ready(channel, media_id, proxy)
        return media_id

    async def _upload_image(
        self, channel: PublishingChannel, content: bytes, content_type: str, proxy: ProxySpec | None
    ) -> dict[str, Any]:
        response = await send(
            self.platform,
            "POST",
            f"{self.e.api_base}/2/media/upload",
            proxy=proxy,
            classify=_classify,
            data={"media_category": "tweet_image", "media_type": content_type},
            files={"media": ("media", content, content_type)},
            headers=bearer(channel.access_token),
        )
        return _data(self.platform, response)

    async def _upload_chunked(
        self, channel: PublishingChannel, item: MediaItem, content: bytes, content_type: str, proxy: ProxySpec | None
    ) -> dict[str, Any]:
        """initialize → append each chunk → finalize; the finalize answer (with processing_info) is returned."""
        base = f"{self.e.api_base}/2/media/upload"
        auth = bearer(channel.access_token)
        init = {"media_type": content_type, "total_bytes": len(content), "media_category": f"tweet_{item.kind}"}
        response = await send(
            self.platform, "POST", f"{base}/initialize", proxy=proxy, classify=_classify, json=init, headers=auth
        )
        media_id = require_str(self.platform, _data(self.platform, response), "id")
        for index, start in enumerate(range(0, len(content), self.chunk_bytes)):
            await send(
                self.platform,
                "POST",
                f"{base}/{media_id}/append",
                proxy=proxy,
                classify=_classify,
                data={"segment_index": str(index)},
                files={"media": ("chunk", content[start : start + self.chunk_bytes], "application/octet-stream")},
                headers=auth,
            )
        final = await send(
            self.platform, "POST", f"{base}/{media_id}/finalize", proxy=proxy, classify=_classify, headers=auth
        )
        return {"id": media_id, **_data(self.platform, final)}

    async def _until_ready(self, channel: PublishingChannel, media_id: str, proxy: ProxySpec | None) -> None:
        deadline = time.monotonic() + self.poll_timeout_s
        params = {"command": "STATUS", "media_id": media_id}
        while True:
            info = _processing(_data(self.platform, await self._get("/2/media/upload", channel, params, proxy)))
            state = info.get("state") if info is not None else "succeeded"
            if state == "succeeded":
                return
            if state == "failed":
                error = (info or {}).get("error") or {}
                raise InvalidContent(f"x: media processing failed: {error.get('message') or 'unknown reason'}")
            if time.monotonic() >= deadline:
                raise Transient(f"x: media {media_id} still processing after {self.poll_timeout_s:.0f}s")
            hint = _opt_int((info or {}).get("check_after_secs")) or 1
            await asyncio.sleep(min(float(hint), self.max_poll_interval_s))

    async def _get(
        self, path: str, channel: PublishingChannel, params: dict[str, str], proxy: ProxySpec | None
    ) -> httpx.Response:
        return await send(
            self.platform,
            "GET",
            f"{self.e.api_base}{path}",
            proxy=proxy,
            params=params,
            headers=bearer(channel.access_token),
        )

    async def _chosen(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, matches: list[str]
    ) -> PublishedPost | None:
        return await chosen(
            post, journal, matches, post_key=TWEET, published=lambda tweet_id: self._published(channel, tweet_id),
            no_text="x: media-only tweets since the first attempt exist; cannot tell which is ours",
        )  # fmt: skip

    def _published(self, channel: PublishingChannel, tweet_id: str) -> PublishedPost:
        # x.com/i/web/status/{id} resolves without the handle when we do not know it.
        user = channel.handle or "i/web"
        return PublishedPost(external_id=tweet_id, url=f"https://x.com/{user}/status/{tweet_id}")


def _data(platform: Platform, response: httpx.Response) -> dict[str, Any]:
    data = json_body(platform, response).get("data")
    return data if isinstance(data, dict) else {}


def _processing(data: dict[str, Any]) -> dict[str, Any] | None:
    info = data.get("processing_info")
    return info if isinstance(info, dict) else None


def _check_content(post: OutgoingPost) -> None:
    if not post.text.strip() and not post.media:
        raise InvalidContent("x: a post needs text or media")
    kinds = [m.kind for m in post.media]
    if len(kinds) > 4:
        raise InvalidContent("x: at most 4 media per post")
    if len(kinds) > 1 and any(k != "image" for k in kinds):
        raise InvalidContent("x: a GIF or a video must be the only media of a post")


def _classify(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    """X's content refusals: 403 duplicate/too long/automated, 400 invalid-request on a create."""
    detail = f"{body.get('detail') or ''} {' '.join(str(e.get('message')) for e in _errors(body))}".lower()
    if response.status_code == 403 and "duplicate" in detail:
        return Duplicate(message)
    if response.status_code == 403 and ("automated" in detail or "spam" in detail):
        return InvalidContent(message, spam=True)
    if response.status_code == 403 and "too long" in detail:
        return InvalidContent(message)
    if response.status_code == 400 and "invalid-request" in str(body.get("type") or ""):
        return InvalidContent(message)
    return None


def _errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors = body.get("errors")
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _normalised(text: str) -> str:
    """Tweet text as comparable: unescaped, every URL (t.co-shortened by X) a placeholder, whitespace collapsed."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    return " ".join(_URL.sub("<url>", text).split())


def _same_text(ours: str, theirs: str, has_media: bool) -> bool:
    mine, shown = _normalised(ours), _normalised(theirs)
    # X appends a t.co link to the attached media at the end of the text.
    return shown == mine or (has_media and shown == f"{mine} <url>".strip())


def _x_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
