"""TikTok: the publishing side (Content Posting API, Direct Post).

    creator_info/query → video/init (FILE_UPLOAD) → PUT chunks with Content-Range → status/fetch until complete
    creator_info/query → content/init (PHOTO, PULL_FROM_URL)                        → status/fetch until complete

No text-only posts. Calling init twice makes two posts, so the journal is the whole story of a delivery:
`tiktok.init` is written "sent" *before* the init request and "refused" after a definite refusal; the answer's
publish_id (with the upload URL) is written before anything else happens. A later run with a publish_id never calls
init again: it finishes the upload if the platform lacks bytes and polls status/fetch. A run that finds "sent" but
no publish_id cannot tell whether TikTok made a post (the listing API needs the video.list scope and only shows
public posts), so it raises Unconfirmed rather than risk a second post."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.platforms.base import bearer, json_body, opt_str, send
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.publishing.media import fetch_media
from domain.channels.connectors import (
    AuthRevoked,
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

INIT_KEY = "tiktok.init"  # "sent" before the init request; "refused" once TikTok definitely said no
PUBLISH_KEY = "tiktok.publish"  # JSON PendingPublish, written as soon as init answers
UPLOADED_KEY = "tiktok.uploaded"  # "1" once the last chunk was accepted
MIN_CHUNK = 5 * 1024 * 1024  # TikTok: chunks of 5-64 MB; anything smaller goes up in one piece
CHUNK = 10 * 1024 * 1024
MAX_PHOTOS = 35
UPLOAD_TIMEOUT_S = 120.0
_DONE = frozenset({"PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "FAILED"})
_PRIVACY_PREFERENCE = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
_CONTENT_CODES = frozenset(
    {
        "invalid_params",
        "invalid_file_upload",
        "privacy_level_option_mismatch",
        "url_ownership_unverified",
        "unaudited_client_can_only_post_to_private_accounts",
    }
)
_METRIC_FIELDS = "id,like_count,comment_count,share_count,view_count"


@dataclass(frozen=True)
class PendingPublish:
    """What the journal keeps of an init: enough to resume without TikTok's help."""

    publish_id: str
    kind: str  # "video" | "photo": the URL path of the finished post
    username: str | None
    upload_url: str | None = None
    size: int = 0

    def dump(self) -> str:
        return json.dumps(self.__dict__)

    @staticmethod
    def load(raw: str) -> PendingPublish:
        data = json.loads(raw)
        return PendingPublish(
            publish_id=str(data["publish_id"]),
            kind=str(data["kind"]),
            username=opt_str(data.get("username")),
            upload_url=opt_str(data.get("upload_url")),
            size=int(data.get("size") or 0),
        )


def chunk_plan(size: int) -> list[tuple[int, int]]:
    """Inclusive byte ranges of the chunks: one chunk under 5 MB, else 10 MB chunks with the remainder folded into
    the last one (TikTok wants total_chunk_count == floor(video_size / chunk_size))."""
    if size <= 0:
        raise InvalidContent("tiktok: the video is empty")
    chunk = size if size < MIN_CHUNK else min(CHUNK, size)
    count = size // chunk
    return [(i * chunk, size - 1 if i == count - 1 else (i + 1) * chunk - 1) for i in range(count)]


def _classify(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    error = body.get("error")
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    if code.startswith("spam_risk"):
        return InvalidContent(message, spam=True)
    if code == "duplicate_post":  # the sandbox's stand-in; TikTok documents no duplicate refusal
        return Duplicate(message)
    if code in _CONTENT_CODES:
        return InvalidContent(message)
    return None


def _data(response: httpx.Response) -> dict[str, Any]:
    body = json_body(Platform.TIKTOK, response)
    error = body.get("error")
    if isinstance(error, dict) and error.get("code") not in (None, "ok"):
        raise Transient(f"tiktok: answered 2xx with error {error.get('code')!r}")
    data = body.get("data")
    return data if isinstance(data, dict) else {}


def _kind(media: tuple[MediaItem, ...]) -> str:
    if not media:
        raise InvalidContent("tiktok: a post needs a video or photos; text-only posts are not possible")
    kinds = {m.kind for m in media}
    if kinds == {"video"} and len(media) == 1:
        return "video"
    if kinds == {"image"} and len(media) <= MAX_PHOTOS:
        return "photo"
    raise InvalidContent(f"tiktok: one video or 1-{MAX_PHOTOS} photos per post (got {sorted(kinds)})")


def _privacy(options: object, settings: Mapping[str, Any]) -> str:
    allowed = [o for o in options if isinstance(o, str)] if isinstance(options, list) else []
    wanted = settings.get("privacy_level")
    if wanted is not None:
        if wanted not in allowed:
            raise InvalidContent(f"tiktok: privacy level {wanted!r} is not offered to this creator")
        return str(wanted)
    for choice in _PRIVACY_PREFERENCE:
        if choice in allowed:
            return choice
    raise InvalidContent("tiktok: the creator offers no privacy level to post with")


class TikTokPublisher:
    platform = Platform.TIKTOK
    poll_interval_s = 0.25  # first wait; doubles up to 2 s
    poll_timeout_s = 30.0  # still processing after this: Transient, and the next run resumes the same publish_id

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        kind = _kind(post.media)
        raw = journal.get(PUBLISH_KEY)
        if raw:
            pending = PendingPublish.load(raw)
        elif journal.get(INIT_KEY) == "sent":
            raise Unconfirmed("tiktok: an earlier init may have created a post whose publish_id was never recorded")
        else:
            pending = await self._init(channel, post, kind, journal, proxy)
        status = await self._status(channel, pending.publish_id, proxy)
        if pending.upload_url and journal.get(UPLOADED_KEY) != "1":
            if _awaiting_bytes(status, pending):
                await self._upload(post.media[0], pending, proxy)
            await journal.record(UPLOADED_KEY, "1")
        status = await self._poll(channel, pending.publish_id, status, proxy)
        return await self._outcome(pending, status, journal)

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        raw = journal.get(PUBLISH_KEY)
        if not raw:
            if journal.get(INIT_KEY) == "sent":
                raise Unconfirmed("tiktok: an init may have been sent but its publish_id was never recorded")
            return None
        pending = PendingPublish.load(raw)
        status = await self._status(channel, pending.publish_id, proxy)
        if pending.upload_url and _awaiting_bytes(status, pending):
            return None  # the upload never finished: no post exists until publish() sends the rest
        status = await self._poll(channel, pending.publish_id, status, proxy, still=Unconfirmed)
        if status.get("status") == "FAILED":
            return None
        return _published(pending, status)

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        if not published.external_id.isdigit():
            return PostMetrics()  # a private post completes without a video id: there is nothing to query
        response = await send(
            self.platform,
            "POST",
            f"{self.e.api_base}/v2/video/query/",
            proxy=proxy,
            params={"fields": _METRIC_FIELDS},
            headers=bearer(channel.access_token),
            json={"filters": {"video_ids": [published.external_id]}},
            classify=_classify,
        )
        videos = _data(response).get("videos")
        video = next((v for v in videos or [] if isinstance(v, dict)), None) if isinstance(videos, list) else None
        if video is None:
            return PostMetrics()
        return PostMetrics(
            likes=_opt_int(video.get("like_count")),
            replies=_opt_int(video.get("comment_count")),
            reposts=_opt_int(video.get("share_count")),
            views=_opt_int(video.get("view_count")),
        )

    # --- steps ---------------------------------------------------------------------------------------------------

    async def _init(
        self,
        channel: PublishingChannel,
        post: OutgoingPost,
        kind: str,
        journal: PublishJournal,
        proxy: ProxySpec | None,
    ) -> PendingPublish:
        creator = await self._call(channel, "/v2/post/publish/creator_info/query/", {}, proxy)
        privacy = _privacy(creator.get("privacy_level_options"), post.settings)
        username = opt_str(creator.get("creator_username")) or channel.handle
        video = await self._download(post.media[0].url, proxy) if kind == "video" else b""
        path, body = self._init_request(post, kind, privacy, video)
        # From here on TikTok may make a post: a crash before the publish_id is recorded must not lead to a second init.
        await journal.record(INIT_KEY, "sent")
        try:
            response = await send(
                self.platform,
                "POST",
                f"{self.e.api_base}{path}",
                proxy=proxy,
                unsafe=True,
                headers=bearer(channel.access_token),
                json=body,
                classify=_classify,
            )
        except Unconfirmed:
            raise
        except ConnectorError:
            await journal.record(INIT_KEY, "refused")  # a definite answer: no post was made, a new init is safe
            raise
        data = _data(response)
        publish_id = opt_str(data.get("publish_id"))
        if publish_id is None:
            raise Unconfirmed("tiktok: init answered without a publish_id; a post may exist")
        pending = PendingPublish(publish_id, kind, username, opt_str(data.get("upload_url")), len(video))
        await journal.record(PUBLISH_KEY, pending.dump())
        return pending

    def _init_request(self, post: OutgoingPost, kind: str, privacy: str, video: bytes) -> tuple[str, dict[str, Any]]:
        flags = {f"disable_{k}": bool(post.settings.get(f"disable_{k}", False)) for k in ("comment", "duet", "stitch")}
        if kind == "video":
            plan = chunk_plan(len(video))
            source = {
                "source": "FILE_UPLOAD",
                "video_size": len(video),
                "chunk_size": plan[0][1] - plan[0][0] + 1,
                "total_chunk_count": len(plan),
            }
            return "/v2/post/publish/video/init/", {
                "post_info": {"title": post.text, "privacy_level": privacy, **flags},
                "source_info": source,
            }
        return "/v2/post/publish/content/init/", {
            "post_info": {
                "description": post.text,
                "privacy_level": privacy,
                "disable_comment": flags["disable_comment"],
                "auto_add_music": bool(post.settings.get("auto_add_music", True)),
            },
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 0,
                "photo_images": [m.url for m in post.media],
            },
            "post_mode": "DIRECT_POST",
            "media_type": "PHOTO",
        }

    async def _upload(self, media: MediaItem, pending: PendingPublish, proxy: ProxySpec | None) -> None:
        video = await self._download(media.url, proxy)
        if len(video) != pending.size or pending.upload_url is None:
            raise InvalidContent("tiktok: the video changed since its upload began")
        for first, last in chunk_plan(len(video)):
            # Re-sending a chunk replaces it, so a resumed upload may safely start from the first byte.
            await send(
                self.platform,
                "PUT",
                pending.upload_url,
                proxy=proxy,
                timeout=UPLOAD_TIMEOUT_S,
                headers={"Content-Type": "video/mp4", "Content-Range": f"bytes {first}-{last}/{len(video)}"},
                content=video[first : last + 1],
                classify=_classify,
            )

    async def _status(self, channel: PublishingChannel, publish_id: str, proxy: ProxySpec | None) -> dict[str, Any]:
        return await self._call(channel, "/v2/post/publish/status/fetch/", {"publish_id": publish_id}, proxy)

    async def _poll(
        self,
        channel: PublishingChannel,
        publish_id: str,
        status: dict[str, Any],
        proxy: ProxySpec | None,
        *,
        still: type[ConnectorError] = Transient,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.poll_timeout_s
        wait = self.poll_interval_s
        while status.get("status") not in _DONE:
            if time.monotonic() + wait > deadline:
                raise still(f"tiktok: post {publish_id} still {status.get('status')} after {self.poll_timeout_s}s")
            await asyncio.sleep(wait)
            wait = min(wait * 2, 2.0)
            status = await self._status(channel, publish_id, proxy)
        return status

    async def _outcome(self, pending: PendingPublish, status: dict[str, Any], journal: PublishJournal) -> PublishedPost:
        if status.get("status") != "FAILED":
            return _published(pending, status)
        reason = str(status.get("fail_reason") or "unknown")
        message = f"tiktok: post {pending.publish_id} failed: {reason}"
        if reason == "internal":
            # TikTok's own hiccup: this publish_id is dead and made no post, so the next run may init afresh.
            await journal.record(PUBLISH_KEY, "")
            await journal.record(INIT_KEY, "refused")
            raise Transient(message)
        if reason == "auth_removed":
            raise AuthRevoked(message)
        raise InvalidContent(message, spam=reason.startswith("spam_risk"))

    async def _call(
        self, channel: PublishingChannel, path: str, body: dict[str, Any], proxy: ProxySpec | None
    ) -> dict[str, Any]:
        response = await send(
            self.platform,
            "POST",
            f"{self.e.api_base}{path}",
            proxy=proxy,
            headers=bearer(channel.access_token),
            json=body,
            classify=_classify,
        )
        return _data(response)

    async def _download(self, url: str, proxy: ProxySpec | None) -> bytes:
        content, _ = await fetch_media(self.platform, url, proxy, kind="video", timeout=UPLOAD_TIMEOUT_S)
        return content


def _published(pending: PendingPublish, status: dict[str, Any]) -> PublishedPost:
    ids = status.get("publicaly_available_post_id")  # sic: TikTok's spelling
    post_id = str(ids[0]) if isinstance(ids, list) and ids else None
    if post_id is None:
        # Private (SELF_ONLY) and inbox posts complete without a public id: the publish_id is all there is.
        return PublishedPost(external_id=pending.publish_id, url=None)
    url = f"https://www.tiktok.com/@{pending.username}/{pending.kind}/{post_id}" if pending.username else None
    return PublishedPost(external_id=post_id, url=url)


def _awaiting_bytes(status: dict[str, Any], pending: PendingPublish) -> bool:
    uploaded = _opt_int(status.get("uploaded_bytes")) or 0
    return status.get("status") == "PROCESSING_UPLOAD" and uploaded < pending.size


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
