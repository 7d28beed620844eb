"""Instagram (API with Instagram Login): one JPEG image, one video (published as a reel), or a carousel of 2 to 10.
Instagram has no text-only posts.

Flow: `POST /{ig-user}/media` creates a container from the media's public URL (carousel: one child container per
item, then the parent) → poll `GET /{container}?fields=status_code` until FINISHED → `POST /{ig-user}/media_publish`.
Every container id is journaled as soon as it exists, so a re-run polls the same container instead of creating
another. `media_publish` is not safe to repeat: before sending it, and in `find_published`, the journaled container's
status tells whether it already became a post (PUBLISHED); its media id is then found in the user's media list
(the container does not name it) by caption, among media published since the first attempt."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx

from adapters.platforms.base import json_body, require_str, retry_after
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.publishing.graph import UNKNOWN_OBJECT_SUBCODE, GraphPublisher, error_codes, opt_int
from domain.channels.connectors import (
    ConnectorError,
    Duplicate,
    InvalidContent,
    InvalidRequest,
    ProxySpec,
    RateLimited,
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

CONTAINER = "instagram.container"
CHILD = "instagram.child.{index}"
MEDIA = "instagram.media.id"
PERMALINK = "instagram.media.permalink"
CLOCK_SKEW = timedelta(minutes=2)
MAX_ITEMS = 10
# Instagram's subcodes: spam, daily cap, and the ones its table says to simply try again (expired container:
# the next run sees EXPIRED and builds a new one; not ready: the next run polls again).
_SPAM = 2207051
_DAILY_CAP = 2207042
_RETRY = frozenset({2207001, 2207003, 2207020, 2207027, 2207032, 2207053})


class InstagramPublisher(GraphPublisher):
    platform = Platform.INSTAGRAM
    poll_timeout_s = 120.0
    poll_interval_s = 2.0
    page_size = 50
    lookup_pages = 5

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        super().__init__(endpoints, _classify)

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        done = journal.get(MEDIA)
        if done:
            return PublishedPost(done, journal.get(PERMALINK))
        _check_content(post)
        container = journal.get(CONTAINER)
        status = await self._settle(channel, container, proxy) if container else None
        if container is None or status is None or status[0] == "EXPIRED":
            # Never published (an expired container cannot have been): build new containers, children included.
            container = await self._containers(channel, post, journal, proxy, fresh=status is not None)
            status = await self._settle(channel, container, proxy)
        code, detail = status
        if code == "PUBLISHED":
            return await self._located(channel, post, journal, proxy)
        if code != "FINISHED":
            raise InvalidContent(f"instagram: container is {code}: {detail}")
        answer = await self._post(
            f"/{channel.internal_id}/media_publish", channel, {"creation_id": container}, proxy, unsafe=True
        )
        media_id = require_str(self.platform, answer, "id")
        await journal.record(MEDIA, media_id)
        return await self._with_permalink(channel, media_id, journal, proxy)

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        done = journal.get(MEDIA)
        if done:
            return PublishedPost(done, journal.get(PERMALINK))
        container = journal.get(CONTAINER)
        if container is None:
            return None  # media_publish is only ever sent for a journaled container
        try:
            code, _ = await self._status(channel, container, proxy)
        except InvalidRequest:
            raise Unconfirmed(f"instagram: container {container} cannot be read any more; cannot tell") from None
        if code != "PUBLISHED":
            return None
        return await self._located(channel, post, journal, proxy)

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        media = published.external_id
        try:
            response = await self._get(
                f"/{media}/insights", channel, {"metric": "views,likes,comments,shares,saved"}, proxy
            )
        except InvalidRequest:
            # Insights need instagram_business_manage_insights; the media's own counters need only the basic scope.
            fields = json_body(
                self.platform, await self._get(f"/{media}", channel, {"fields": "like_count,comments_count"}, proxy)
            )
            return PostMetrics(likes=opt_int(fields.get("like_count")), replies=opt_int(fields.get("comments_count")))
        values = _insights(json_body(self.platform, response))
        return PostMetrics(
            views=values.get("views"),
            likes=values.get("likes"),
            replies=values.get("comments"),
            reposts=values.get("shares"),
            saves=values.get("saved"),
        )

    # --- containers ---------------------------------------------------------------------------------------------

    async def _containers(
        self,
        channel: PublishingChannel,
        post: OutgoingPost,
        journal: PublishJournal,
        proxy: ProxySpec | None,
        *,
        fresh: bool,
    ) -> str:
        if len(post.media) == 1:
            return await self._create(channel, _item(post.media[0], caption=post.text), journal, CONTAINER, proxy)
        children = []
        for index, item in enumerate(post.media):
            key = CHILD.format(index=index)
            child = None if fresh else journal.get(key)
            children.append(child or await self._create(channel, _item(item, child=True), journal, key, proxy))
        for child in children:
            code, detail = await self._settle(channel, child, proxy)
            if code == "EXPIRED" and not fresh:
                return await self._containers(channel, post, journal, proxy, fresh=True)
            if code != "FINISHED":
                raise InvalidContent(f"instagram: carousel item is {code}: {detail}")
        parent = {"media_type": "CAROUSEL", "children": ",".join(children), "caption": post.text}
        return await self._create(channel, parent, journal, CONTAINER, proxy)

    async def _create(
        self,
        channel: PublishingChannel,
        form: dict[str, str],
        journal: PublishJournal,
        key: str,
        proxy: ProxySpec | None,
    ) -> str:
        # Safe to repeat: an unpublished container is invisible and expires on its own.
        container = require_str(
            self.platform, await self._post(f"/{channel.internal_id}/media", channel, form, proxy), "id"
        )
        await journal.record(key, container)
        return container

    async def _settle(self, channel: PublishingChannel, container: str, proxy: ProxySpec | None) -> tuple[str, str]:
        """The container's status once it left IN_PROGRESS; Transient if it stays there past poll_timeout_s."""
        deadline = time.monotonic() + self.poll_timeout_s
        while True:
            status = await self._status(channel, container, proxy)
            if status[0] != "IN_PROGRESS":
                return status
            if time.monotonic() >= deadline:
                raise Transient(f"instagram: container {container} still IN_PROGRESS after {self.poll_timeout_s:.0f}s")
            await asyncio.sleep(self.poll_interval_s)

    async def _status(self, channel: PublishingChannel, container: str, proxy: ProxySpec | None) -> tuple[str, str]:
        body = json_body(
            self.platform, await self._get(f"/{container}", channel, {"fields": "status_code,status"}, proxy)
        )
        return str(body.get("status_code") or ""), str(body.get("status") or "")

    # --- the published media --------------------------------------------------------------------------------------

    async def _located(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, proxy: ProxySpec | None
    ) -> PublishedPost:
        """The media our PUBLISHED container became: the one media since the first attempt with our caption."""
        params = {
            "fields": "id,caption,timestamp,permalink",
            "since": str(int((post.first_attempt_at - CLOCK_SKEW).timestamp())),
            "limit": str(self.page_size),
        }
        media = await self._listing(f"/{channel.internal_id}/media", channel, params, proxy, self.lookup_pages)
        if media is None:
            raise Unconfirmed(f"instagram: more than {self.lookup_pages} pages of media since the first attempt")
        matches = [m for m in media if (m.get("caption") or "") == post.text]
        if len(matches) != 1:
            # Ours is among them (the container says PUBLISHED), but none or several fit: we cannot say which.
            raise Unconfirmed(f"instagram: container published, {len(matches)} media match its caption")
        media_id = require_str(self.platform, matches[0], "id")
        await journal.record(MEDIA, media_id)
        permalink = matches[0].get("permalink")
        if isinstance(permalink, str) and permalink:
            await journal.record(PERMALINK, permalink)
            return PublishedPost(media_id, permalink)
        return await self._with_permalink(channel, media_id, journal, proxy)

    async def _with_permalink(
        self, channel: PublishingChannel, media_id: str, journal: PublishJournal, proxy: ProxySpec | None
    ) -> PublishedPost:
        try:
            body = json_body(self.platform, await self._get(f"/{media_id}", channel, {"fields": "permalink"}, proxy))
        except ConnectorError:
            return PublishedPost(media_id, None)  # the post is live; a missing URL must not fail the delivery
        permalink = body.get("permalink")
        if not isinstance(permalink, str) or not permalink:
            return PublishedPost(media_id, None)
        await journal.record(PERMALINK, permalink)
        return PublishedPost(media_id, permalink)


def _check_content(post: OutgoingPost) -> None:
    if not post.media:
        raise InvalidContent("instagram: posts need an image or a video (no text-only posts)")
    if len(post.media) > MAX_ITEMS:
        raise InvalidContent(f"instagram: at most {MAX_ITEMS} items per carousel")
    if any(m.kind == "gif" for m in post.media):
        raise InvalidContent("instagram: GIFs are not supported")


def _item(item: MediaItem, *, caption: str | None = None, child: bool = False) -> dict[str, str]:
    if item.kind == "video":
        form = {"media_type": "VIDEO" if child else "REELS", "video_url": item.url}
    else:
        form = {"image_url": item.url}
        if item.alt_text:
            form["alt_text"] = item.alt_text
    if child:
        form["is_carousel_item"] = "true"
    if caption:
        form["caption"] = caption
    return form


def _classify(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    code, subcode = error_codes(body)
    if code == 506:
        return Duplicate(message)
    if subcode == _SPAM:  # code 4, which would otherwise read as throttling
        return InvalidContent(message, spam=True)
    if subcode == _DAILY_CAP:
        return RateLimited(message, retry_after(Platform.INSTAGRAM, response))
    if subcode in _RETRY or code in (-1, -2):
        return Transient(message)
    if subcode is not None and 2207000 <= subcode < 2208000:
        return InvalidContent(message)
    if code in (100, 9004, 36000, 36001, 36003) and subcode != UNKNOWN_OBJECT_SUBCODE:
        return InvalidContent(message)
    return None


def _insights(body: dict[str, Any]) -> dict[str, int]:
    values: dict[str, int] = {}
    for row in body.get("data") or []:
        points = row.get("values") if isinstance(row, dict) else None
        value = (
            points[-1].get("value") if isinstance(points, list) and points and isinstance(points[-1], dict) else None
        )
        if isinstance(row, dict) and isinstance(value, int):
            values[str(row.get("name"))] = value
    return values
