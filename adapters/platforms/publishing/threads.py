"""Threads: the publishing side (graph.threads.net).

    POST /{user}/threads (TEXT | IMAGE | VIDEO, or carousel items + CAROUSEL) → container id
    GET  /{container}?fields=status,error_message until FINISHED
    POST /{user}/threads_publish?creation_id={container} → media id;  GET /{media}?fields=permalink

Only threads_publish makes a post; containers are cheap and expire unpublished after 24 h. So the container id is
journaled before it is polled or published, and a later run asks the container before publishing again: PUBLISHED
means an earlier threads_publish went through (its media id is then found in the user's recent threads by text and
time), FINISHED means it did not. EXPIRED starts a new container; ERROR is the platform refusing the media."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import httpx

from adapters.platforms.base import Classifier, bearer, json_body, opt_str, require_str, send
from adapters.platforms.config import PlatformEndpoints
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

CONTAINER_KEY = "threads.container"  # the container to publish (the carousel parent for several media)
CHILDREN_KEY = "threads.children"  # JSON list of carousel item containers made so far
MEDIA_KEY = "threads.media"  # JSON {"id", "url"} once threads_publish answered
PUBLISHING_KEY = "threads.publishing"  # epoch seconds just before threads_publish was sent
MAX_CAROUSEL = 20
_METRICS = "views,likes,replies,reposts,quotes"
# Graph codes (PLATFORMS.md; Threads shares Instagram's publishing codes): 506 duplicate, 368 policy block,
# 2207051 spam, 9007/2207027 media not ready yet, 24/2207020 container expired.
_SPAM_SUBCODES = frozenset({2207051})
_NOT_READY = frozenset({9007, 2207027})


class _Missing(ConnectorError):
    """The object does not exist (Graph code 100, subcode 33)."""


def _error(body: dict[str, Any]) -> tuple[int | None, int | None]:
    error = body.get("error")
    if not isinstance(error, dict):
        return None, None
    code, subcode = error.get("code"), error.get("error_subcode")
    return (code if isinstance(code, int) else None), (subcode if isinstance(subcode, int) else None)


def _classify_write(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    code, subcode = _error(body)
    if code == 506:
        return Duplicate(message)
    if code == 368 or subcode in _SPAM_SUBCODES:
        return InvalidContent(message, spam=True)
    if code in _NOT_READY or subcode in _NOT_READY:
        return Transient(message)
    if code == 100:
        return InvalidContent(message)
    return None


def _classify_read(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    code, subcode = _error(body)
    return _Missing(message) if code == 100 and subcode == 33 else None


class ThreadsPublisher:
    platform = Platform.THREADS
    poll_interval_s = 0.25  # first wait; doubles up to 2 s
    poll_timeout_s = 30.0  # Meta suggests minutes for video; a later run resumes the journaled container
    clock_skew_s = 30.0  # our clock vs Meta's, when looking for the post a threads_publish made

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints
        self.base = f"{endpoints.api_base}/{endpoints.graph_version or 'v1.0'}"

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        done = _done(journal)
        if done is not None:  # published earlier; only the permalink may still be missing
            url = done.url or await self._permalink(channel, done.external_id, proxy)
            return PublishedPost(done.external_id, url)
        container = journal.get(CONTAINER_KEY)
        if container:
            status = await self._container_status(channel, container, proxy)
            if status == "PUBLISHED":
                return await self._recover(channel, post, journal, proxy)
            if status in ("EXPIRED", "GONE"):
                container = None  # never published and no longer publishable: build a fresh one
        if not container:
            container = await self._make_container(channel, post, journal, proxy)
        await self._wait_finished(channel, container, proxy)
        # Narrows a later search for this post to what was published from now on.
        await journal.record(PUBLISHING_KEY, str(time.time()))
        response = await self._post(channel, "threads_publish", {"creation_id": container}, proxy, unsafe=True)
        media_id = require_str(self.platform, json_body(self.platform, response), "id")
        # Journal the id before anything else can fail: a retry then returns this post instead of asking again.
        await journal.record(MEDIA_KEY, json.dumps({"id": media_id, "url": None}))
        published = PublishedPost(media_id, await self._permalink(channel, media_id, proxy))
        await journal.record(MEDIA_KEY, json.dumps({"id": media_id, "url": published.url}))
        return published

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        done = _done(journal)
        if done is not None:
            return done
        container = journal.get(CONTAINER_KEY)
        if not container:
            return None  # no container was recorded, so none can have been published
        if await self._container_status(channel, container, proxy) != "PUBLISHED":
            return None
        return await self._recover(channel, post, journal, proxy)

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        response = await send(
            self.platform,
            "GET",
            f"{self.base}/{published.external_id}/insights",
            proxy=proxy,
            params={"metric": _METRICS},
            headers=bearer(channel.access_token),
        )
        values: dict[str, int] = {}
        for entry in json_body(self.platform, response).get("data") or []:
            value = _metric_value(entry)
            if value is not None:
                values[str(entry.get("name"))] = value
        return PostMetrics(
            views=values.get("views"),
            likes=values.get("likes"),
            replies=values.get("replies"),
            reposts=values.get("reposts"),
            quotes=values.get("quotes"),
        )

    # --- containers ----------------------------------------------------------------------------------------------

    async def _make_container(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, proxy: ProxySpec | None
    ) -> str:
        if not post.media:
            container = await self._create(channel, {"media_type": "TEXT", "text": post.text}, proxy)
        elif len(post.media) == 1:
            container = await self._create(channel, {**_media_params(post.media[0]), "text": post.text}, proxy)
        else:
            children = await self._children(channel, post, journal, proxy)
            params = {"media_type": "CAROUSEL", "children": ",".join(children), "text": post.text}
            container = await self._create(channel, params, proxy)
        await journal.record(CONTAINER_KEY, container)
        return container

    async def _children(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, proxy: ProxySpec | None
    ) -> list[str]:
        if len(post.media) > MAX_CAROUSEL:
            raise InvalidContent(f"threads: at most {MAX_CAROUSEL} media per post")
        made: list[str] = json.loads(journal.get(CHILDREN_KEY) or "[]")
        for item in post.media[len(made) :]:
            params = {**_media_params(item), "is_carousel_item": "true"}
            made.append(await self._create(channel, params, proxy))
            await journal.record(CHILDREN_KEY, json.dumps(made))
        for child in made:
            await self._wait_finished(channel, child, proxy)
        return made

    async def _create(self, channel: PublishingChannel, params: dict[str, str], proxy: ProxySpec | None) -> str:
        # A container is not a post: if this call's outcome is lost, the orphan simply expires.
        response = await self._post(channel, "threads", params, proxy)
        return require_str(self.platform, json_body(self.platform, response), "id")

    async def _container_status(self, channel: PublishingChannel, container: str, proxy: ProxySpec | None) -> str:
        """IN_PROGRESS | FINISHED | PUBLISHED | EXPIRED, or GONE when Threads no longer knows the container.
        ERROR raises InvalidContent with Threads' error_message."""
        try:
            data = await self._get(channel, container, "status,error_message", proxy, _classify_read)
        except _Missing:
            return "GONE"
        status = str(data.get("status") or "")
        if status == "ERROR":
            raise InvalidContent(f"threads: container failed: {data.get('error_message') or 'UNKNOWN'}")
        return status

    async def _wait_finished(self, channel: PublishingChannel, container: str, proxy: ProxySpec | None) -> None:
        deadline = time.monotonic() + self.poll_timeout_s
        wait = self.poll_interval_s
        while (status := await self._container_status(channel, container, proxy)) != "FINISHED":
            if status in ("PUBLISHED", "EXPIRED", "GONE"):
                raise Transient(f"threads: container became {status} while waiting to publish it")
            if time.monotonic() + wait > deadline:
                raise Transient(f"threads: container still {status} after {self.poll_timeout_s}s")
            await asyncio.sleep(wait)
            wait = min(wait * 2, 2.0)

    # --- finding the post of a published container ---------------------------------------------------------------

    async def _recover(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, proxy: ProxySpec | None
    ) -> PublishedPost:
        """The container says PUBLISHED but the media id never reached the journal: find it among the user's recent
        threads by text, made no earlier than our threads_publish call (or the first attempt, failing that)."""
        started = float(journal.get(PUBLISHING_KEY) or post.first_attempt_at.timestamp())
        since = int(started - self.clock_skew_s)
        response = await send(
            self.platform,
            "GET",
            f"{self.base}/{channel.internal_id}/threads",
            proxy=proxy,
            params={"fields": "id,text,timestamp,permalink", "since": since, "limit": 100},
            headers=bearer(channel.access_token),
        )
        matches = [
            m
            for m in json_body(self.platform, response).get("data") or []
            if isinstance(m, dict) and (m.get("text") or "") == post.text and opt_str(m.get("id"))
        ]
        if not matches:
            raise Unconfirmed("threads: the container was published but its post is not among the recent threads")
        # Another delivery may have posted the same text around the same time: ours is the one nearest our request.
        ours = min(matches, key=lambda m: abs(_timestamp(m.get("timestamp")) - started))
        published = PublishedPost(str(ours["id"]), opt_str(ours.get("permalink")))
        await journal.record(MEDIA_KEY, json.dumps({"id": published.external_id, "url": published.url}))
        return published

    async def _permalink(self, channel: PublishingChannel, media_id: str, proxy: ProxySpec | None) -> str | None:
        return opt_str((await self._get(channel, media_id, "id,permalink", proxy, None)).get("permalink"))

    # --- HTTP --------------------------------------------------------------------------------------------------------

    async def _post(
        self,
        channel: PublishingChannel,
        edge: str,
        params: dict[str, str],
        proxy: ProxySpec | None,
        *,
        unsafe: bool = False,
    ) -> httpx.Response:
        return await send(
            self.platform,
            "POST",
            f"{self.base}/{channel.internal_id}/{edge}",
            proxy=proxy,
            unsafe=unsafe,
            data=params,
            headers=bearer(channel.access_token),
            classify=_classify_write,
        )

    async def _get(
        self,
        channel: PublishingChannel,
        object_id: str,
        fields: str,
        proxy: ProxySpec | None,
        classify: Classifier | None,
    ) -> dict[str, Any]:
        response = await send(
            self.platform,
            "GET",
            f"{self.base}/{object_id}",
            proxy=proxy,
            params={"fields": fields},
            headers=bearer(channel.access_token),
            classify=classify,
        )
        return json_body(self.platform, response)


def _done(journal: PublishJournal) -> PublishedPost | None:
    raw = journal.get(MEDIA_KEY)
    if not raw:
        return None
    data = json.loads(raw)
    return PublishedPost(str(data["id"]), opt_str(data.get("url")))


def _media_params(item: MediaItem) -> dict[str, str]:
    # Threads downloads the media itself from the public URL.
    if item.kind == "image":
        params = {"media_type": "IMAGE", "image_url": item.url}
    elif item.kind == "video":
        params = {"media_type": "VIDEO", "video_url": item.url}
    else:
        raise InvalidContent(f"threads: cannot post {item.kind} media")
    if item.alt_text:
        params["alt_text"] = item.alt_text
    return params


def _timestamp(value: object) -> float:
    """Graph's "2024-05-01T12:00:00+0000"; an unreadable one sorts last."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return float("inf")


def _metric_value(entry: object) -> int | None:
    if not isinstance(entry, dict):
        return None
    values = entry.get("values")
    total = entry.get("total_value")
    if isinstance(values, list) and values and isinstance(values[0], dict):
        value = values[0].get("value")
    elif isinstance(total, dict):
        value = total.get("value")
    else:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
