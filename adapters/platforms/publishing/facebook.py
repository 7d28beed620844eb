"""Facebook Pages (Graph API): page posts with text (and an optional `link` setting), one photo, or several photos.

Flow: text → `POST /{page}/feed`; one photo → `POST /{page}/photos` (Facebook pulls the image from its public URL);
several photos → each uploaded unpublished (`published=false`), its id journaled, then one `POST /{page}/feed` with
`attached_media`. The answer's id is "{page}_{post}".

Facebook has no idempotency key: the journal marks the post as sent before the creating call; a run that finds the
mark without a post id searches the page feed (`GET /{page}/feed?since=`) for this exact message. Facebook refuses
the same status message twice (506), which backs this up."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx

from adapters.platforms.base import json_body, require_str
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.publishing.graph import UNKNOWN_OBJECT_SUBCODE, GraphPublisher, error_codes, opt_int
from adapters.platforms.publishing.sent_marker import chosen, publish_once
from domain.channels.connectors import (
    ConnectorError,
    Duplicate,
    InvalidContent,
    InvalidRequest,
    ProxySpec,
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

SENT = "facebook.post.sent"
POST = "facebook.post.id"
PHOTO = "facebook.photo.{index}"
CLOCK_SKEW = timedelta(minutes=2)
MAX_PHOTOS = 10
# Graph codes of content refusals: invalid parameter, missing/invalid image file.
_CONTENT_CODES = frozenset({100, 324})


class FacebookPublisher(GraphPublisher):
    platform = Platform.FACEBOOK
    page_size = 100
    lookup_pages = 5

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        super().__init__(endpoints, _classify)

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        done = journal.get(POST)
        if done:
            return _published(done)
        _check_content(post)

        async def upload() -> list[str]:
            # One photo goes with the create call itself; several are uploaded unpublished first.
            if len(post.media) < 2:
                return []
            return [await self._photo(channel, item, i, journal, proxy) for i, item in enumerate(post.media)]

        return await publish_once(
            journal, sent_key=SENT, post_key=POST,
            look_up=lambda: self.find_published(channel, post, journal, proxy=proxy), upload=upload,
            create=lambda photo_ids: self._create(channel, post, photo_ids, proxy), published=_published,
        )  # fmt: skip

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        done = journal.get(POST)
        if done:
            return _published(done)
        params = {
            "since": str(int((post.first_attempt_at - CLOCK_SKEW).timestamp())),
            "fields": "id,message,created_time",
            "limit": str(self.page_size),
        }
        entries = await self._listing(f"/{channel.internal_id}/feed", channel, params, proxy, self.lookup_pages)
        if entries is None:
            raise Unconfirmed(f"facebook: more than {self.lookup_pages} pages of posts since the first attempt")
        matches = [str(e["id"]) for e in entries if (e.get("message") or "") == post.text and e.get("id")]
        return await _chosen(post, journal, matches)

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        fields = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"
        body = json_body(
            self.platform, await self._get(f"/{published.external_id}", channel, {"fields": fields}, proxy)
        )
        return PostMetrics(
            impressions=await self._impressions(channel, published, proxy),
            likes=opt_int(((body.get("reactions") or {}).get("summary") or {}).get("total_count")),
            replies=opt_int(((body.get("comments") or {}).get("summary") or {}).get("total_count")),
            reposts=opt_int((body.get("shares") or {}).get("count")) or 0,  # Graph omits `shares` at zero
        )

    # --- steps --------------------------------------------------------------------------------------------------

    async def _create(
        self, channel: PublishingChannel, post: OutgoingPost, photo_ids: list[str], proxy: ProxySpec | None
    ) -> str:
        page = channel.internal_id
        if len(post.media) == 1:
            form = {"url": post.media[0].url, "caption": post.text}
            answer = await self._post(f"/{page}/photos", channel, form, proxy, unsafe=True)
            return require_str(self.platform, answer, "post_id")
        form = {"message": post.text} if post.text else {}
        link = post.settings.get("link")
        if isinstance(link, str) and link:
            form["link"] = link
        for index, photo_id in enumerate(photo_ids):
            form[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        return require_str(self.platform, await self._post(f"/{page}/feed", channel, form, proxy, unsafe=True), "id")

    async def _photo(
        self, channel: PublishingChannel, item: MediaItem, index: int, journal: PublishJournal, proxy: ProxySpec | None
    ) -> str:
        """One unpublished photo of a multi-photo post: invisible until attached, so re-uploading is harmless."""
        key = PHOTO.format(index=index)
        photo_id = journal.get(key)
        if photo_id is None:
            answer = await self._post(
                f"/{channel.internal_id}/photos", channel, {"url": item.url, "published": "false"}, proxy
            )
            photo_id = require_str(self.platform, answer, "id")
            await journal.record(key, photo_id)
        return photo_id

    async def _impressions(
        self, channel: PublishingChannel, published: PublishedPost, proxy: ProxySpec | None
    ) -> int | None:
        try:
            response = await self._get(
                f"/{published.external_id}/insights", channel, {"metric": "post_impressions"}, proxy
            )
        except InvalidRequest:
            return None  # insights need read_insights, which the page may not have granted
        rows = [r for r in json_body(self.platform, response).get("data") or [] if isinstance(r, dict)]
        values = [v for r in rows if r.get("name") == "post_impressions" for v in r.get("values") or []]
        return opt_int(values[-1].get("value")) if values and isinstance(values[-1], dict) else None


def _check_content(post: OutgoingPost) -> None:
    if not post.text.strip() and not post.media and not post.settings.get("link"):
        raise InvalidContent("facebook: a post needs a message, a link or photos")
    if any(m.kind == "video" for m in post.media):
        raise InvalidContent("facebook: video posts are not supported by this publisher")
    if len(post.media) > MAX_PHOTOS:
        raise InvalidContent(f"facebook: at most {MAX_PHOTOS} photos per post")


def _classify(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
    """506 duplicate, 368 abusive content, 100/324 invalid content; 190, throttling and 1/2 go to the shared map."""
    code, subcode = error_codes(body)
    if code == 506:
        return Duplicate(message)
    if code == 368:
        return InvalidContent(message, spam=True)
    if code in _CONTENT_CODES and subcode != UNKNOWN_OBJECT_SUBCODE:
        return InvalidContent(message)
    return None


async def _chosen(post: OutgoingPost, journal: PublishJournal, matches: list[str]) -> PublishedPost | None:
    return await chosen(
        post, journal, matches, post_key=POST, published=_published,
        no_text="facebook: posts without a message since the first attempt exist; cannot tell ours",
    )  # fmt: skip


def _published(post_id: str) -> PublishedPost:
    page, _, story = post_id.partition("_")
    url = f"https://www.facebook.com/{page}/posts/{story}" if story else f"https://www.facebook.com/{post_id}"
    return PublishedPost(external_id=post_id, url=url)
