"""Mastodon: the publishing side, against the channel's own instance (channel.api_base, else the default one).

    POST /api/v2/media per attachment (202 → poll GET /api/v1/media/:id until it has a url)
    POST /api/v1/statuses {status, media_ids, visibility} with Idempotency-Key

Exactly once, in two layers. The Idempotency-Key is derived from the delivery key, and Mastodon answers a repeated
key with the status it already made, for one hour: a blind re-send inside that hour cannot post twice. Beyond the
hour, and for `find_published` (which must never create anything), the account's own statuses since the first send
are read back and matched by text, because Mastodon keeps no client key on a status. Uploaded media ids are
journaled so a re-run attaches the same uploads instead of leaving orphans behind."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import httpx

from adapters.platforms.base import bearer, json_body, opt_str, require_str, send
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.publishing.media import fetch_media
from domain.channels.connectors import ConnectorError, Duplicate, InvalidContent, ProxySpec, Transient, Unconfirmed
from domain.identity.platforms import Platform
from domain.publishing.publisher import (
    MediaItem,
    OutgoingPost,
    PostMetrics,
    PublishedPost,
    PublishingChannel,
    PublishJournal,
)

STATUS_KEY = "mastodon.status"  # JSON {"id", "url"} once the status exists
SENT_KEY = "mastodon.sent"  # epoch seconds of the first status request: the start of the idempotency hour
MEDIA_KEY = "mastodon.media"  # JSON list of uploaded media ids, in post.media order
IDEMPOTENCY_WINDOW_S = 3600.0
MAX_MEDIA = 4
_MENTION = re.compile(r"@([A-Za-z0-9_]+)@[A-Za-z0-9.-]+")


class _Gone(ConnectorError):
    """A journaled media id the instance no longer has (unattached media is cleaned up after a while)."""


def idempotency_key(delivery_key: str) -> str:
    # Hashed: the key is stored on the instance, and the delivery key names our internal ids.
    return hashlib.sha256(f"souls-publish:{delivery_key}".encode()).hexdigest()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain(content_html: str) -> str:
    """A status's HTML content as comparable text: tags dropped, entities decoded, whitespace collapsed."""
    parser = _Text()
    parser.feed(content_html)
    return " ".join("".join(parser.parts).split())


def comparable(text: str) -> str:
    """Text with mentions reduced to their username, as Mastodon displays a remote mention it could resolve (one it
    could not stays as typed, so both sides of a comparison go through this)."""
    return " ".join(_MENTION.sub(r"@\1", text).split())


def _classify_status(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    if response.status_code != 422:
        return None
    detail = str(body.get("error") or "").lower()
    if "not finished processing" in detail:
        return Transient(message)  # the media needs a moment more; the same request will succeed
    if "duplicate" in detail:  # the sandbox's stand-in; Mastodon documents no duplicate refusal
        return Duplicate(message)
    return InvalidContent(message)


def _classify_media(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    if response.status_code == 404:
        return _Gone(message)
    return InvalidContent(message) if response.status_code in (413, 422) else None


class MastodonPublisher:
    platform = Platform.MASTODON
    poll_interval_s = 0.25  # first wait; doubles up to 2 s
    poll_timeout_s = 60.0  # video transcoding takes a while; a re-run resumes with the journaled media ids
    lookup_pages = 5  # of 40 statuses each, when reading the account's statuses back
    clock_skew_s = 30.0  # our clock vs the instance's

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        done = _done(journal)
        if done is not None:
            return done
        sent = journal.get(SENT_KEY)
        if sent and time.time() - float(sent) > IDEMPOTENCY_WINDOW_S - self.clock_skew_s:
            # The instance may have forgotten our key: only the statuses themselves can tell if we posted.
            found = await self._lookup(channel, post, float(sent), proxy)
            if found is not None:
                await _record(journal, found)
                return found
        media_ids = await self._media(channel, post, journal, proxy)
        if not sent:
            await journal.record(SENT_KEY, str(time.time()))
        response = await send(
            self.platform,
            "POST",
            f"{self._base(channel)}/api/v1/statuses",
            proxy=proxy,
            unsafe=True,
            headers={**bearer(channel.access_token), "Idempotency-Key": idempotency_key(post.key)},
            json=_status_body(post, media_ids),
            classify=_classify_status,
        )
        published = _published(json_body(self.platform, response))
        await _record(journal, published)
        return published

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        done = _done(journal)
        if done is not None:
            return done
        sent = journal.get(SENT_KEY)
        if not sent:
            return None  # no status request ever left: nothing can have been posted
        return await self._lookup(channel, post, float(sent), proxy)

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        response = await send(
            self.platform,
            "GET",
            f"{self._base(channel)}/api/v1/statuses/{published.external_id}",
            proxy=proxy,
            headers=bearer(channel.access_token),
        )
        status = json_body(self.platform, response)
        return PostMetrics(
            likes=_opt_int(status.get("favourites_count")),
            reposts=_opt_int(status.get("reblogs_count")),
            replies=_opt_int(status.get("replies_count")),
            quotes=_opt_int(status.get("quotes_count")),
        )

    # --- reading statuses back -----------------------------------------------------------------------------------

    async def _lookup(
        self, channel: PublishingChannel, post: OutgoingPost, sent_at: float, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        """The account's status with this post's text made closest to our first send; None once the listing reaches
        back past that moment without one, Unconfirmed if the pages run out first."""
        bound = sent_at - self.clock_skew_s
        wanted = comparable(post.text)
        matches: list[dict[str, Any]] = []
        max_id: str | None = None
        for _ in range(self.lookup_pages):
            page = await self._statuses(channel, max_id, proxy)
            older = [s for s in page if _created(s) < bound]
            matches += [s for s in page if s not in older and _same(s, wanted, len(post.media))]
            if older or len(page) < 40:
                break
            max_id = str(page[-1].get("id"))
        else:
            if not matches:
                raise Unconfirmed("mastodon: too many statuses since the first attempt to tell whether it was posted")
        if not matches:
            return None
        # Another delivery may have posted the same text around the same time: ours is the one nearest our request.
        return _published(min(matches, key=lambda s: abs(_created(s) - sent_at)))

    async def _statuses(
        self, channel: PublishingChannel, max_id: str | None, proxy: ProxySpec | None
    ) -> list[dict[str, Any]]:
        params = {"limit": "40", "exclude_reblogs": "true", **({"max_id": max_id} if max_id else {})}
        response = await send(
            self.platform,
            "GET",
            f"{self._base(channel)}/api/v1/accounts/{channel.internal_id}/statuses",
            proxy=proxy,
            params=params,
            headers=bearer(channel.access_token),
        )
        try:
            page = response.json()
        except ValueError:
            raise Transient("mastodon: account statuses answer is not JSON") from None
        return [s for s in page if isinstance(s, dict)] if isinstance(page, list) else []

    # --- media ---------------------------------------------------------------------------------------------------

    async def _media(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, proxy: ProxySpec | None
    ) -> list[str]:
        if len(post.media) > MAX_MEDIA:
            raise InvalidContent(f"mastodon: at most {MAX_MEDIA} attachments per status")
        ids: list[str] = json.loads(journal.get(MEDIA_KEY) or "[]")
        for index, item in enumerate(post.media):
            if index == len(ids):
                ids.append(await self._upload(channel, item, proxy))
                await journal.record(MEDIA_KEY, json.dumps(ids))
            try:
                await self._wait_ready(channel, ids[index], proxy)
            except _Gone:  # cleaned up since an earlier run uploaded it: upload it again
                ids[index] = await self._upload(channel, item, proxy)
                await journal.record(MEDIA_KEY, json.dumps(ids))
                await self._wait_ready(channel, ids[index], proxy)
        return ids

    async def _upload(self, channel: PublishingChannel, item: MediaItem, proxy: ProxySpec | None) -> str:
        content, mime = await fetch_media(self.platform, item.url, proxy, kind=item.kind)
        name = httpx.URL(item.url).path.rsplit("/", 1)[-1] or "media"
        response = await send(
            self.platform,
            "POST",
            f"{self._base(channel)}/api/v2/media",
            proxy=proxy,
            headers=bearer(channel.access_token),
            files={"file": (name, content, mime)},
            data={"description": item.alt_text} if item.alt_text else None,
            classify=_classify_media,
        )
        return require_str(self.platform, json_body(self.platform, response), "id")

    async def _wait_ready(self, channel: PublishingChannel, media_id: str, proxy: ProxySpec | None) -> None:
        deadline = time.monotonic() + self.poll_timeout_s
        wait = self.poll_interval_s
        while True:
            response = await send(
                self.platform,
                "GET",
                f"{self._base(channel)}/api/v1/media/{media_id}",
                proxy=proxy,
                headers=bearer(channel.access_token),
                classify=_classify_media,
            )
            # 206 Partial Content and a null url: still processing.
            if response.status_code == 200 and opt_str(json_body(self.platform, response).get("url")):
                return
            if time.monotonic() + wait > deadline:
                raise Transient(f"mastodon: media {media_id} still processing after {self.poll_timeout_s}s")
            await asyncio.sleep(wait)
            wait = min(wait * 2, 2.0)

    def _base(self, channel: PublishingChannel) -> str:
        return (channel.api_base or self.e.api_base).rstrip("/")


def _status_body(post: OutgoingPost, media_ids: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": post.text, "visibility": str(post.settings.get("visibility") or "public")}
    if media_ids:
        body["media_ids"] = media_ids
    for name in ("spoiler_text", "language", "sensitive"):
        if name in post.settings:
            body[name] = post.settings[name]
    return body


def _published(status: dict[str, Any]) -> PublishedPost:
    return PublishedPost(require_str(Platform.MASTODON, status, "id"), opt_str(status.get("url")))


def _done(journal: PublishJournal) -> PublishedPost | None:
    raw = journal.get(STATUS_KEY)
    if not raw:
        return None
    data = json.loads(raw)
    return PublishedPost(str(data["id"]), opt_str(data.get("url")))


async def _record(journal: PublishJournal, published: PublishedPost) -> None:
    await journal.record(STATUS_KEY, json.dumps({"id": published.external_id, "url": published.url}))


def _created(status: dict[str, Any]) -> float:
    raw = str(status.get("created_at") or "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")  # unreadable: treat as recent so the listing goes on


def _same(status: dict[str, Any], wanted: str, media: int) -> bool:
    attached = status.get("media_attachments")
    count = len(attached) if isinstance(attached, list) else 0
    return count == media and comparable(plain(str(status.get("content") or ""))) == wanted


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
