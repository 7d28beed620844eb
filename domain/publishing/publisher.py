"""The publishing side of a platform: publish a post (text, images, video), look a post up before a retry, read its
metrics. One implementation per network lives in adapters/platforms/publishing/; every call goes through an HTTP
client built for the Account's proxy, like the connection side (domain/channels/connectors.py), and raises the same
error classes (AuthExpired, AuthRevoked, RateLimited, Duplicate, InvalidContent, Transient, Unconfirmed).

Exactly once: `publish` may run again after a crash. A multi-step flow (Instagram/Threads containers, TikTok
publish ids, uploaded media) writes each step's id to the `PublishJournal` *before* the step that depends on it, and
on a second run resumes from the journal instead of starting over (calling TikTok's init twice makes two posts).
`find_published` is the check-before-retry: the post this delivery's key already made, if the platform has it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from domain.channels.connectors import ProxySpec
from domain.identity.platforms import Platform

MediaKind = Literal["image", "video", "gif"]


@dataclass(frozen=True)
class MediaItem:
    """A media file at a URL the platform (or the adapter, through the proxy) can fetch."""

    url: str
    kind: MediaKind = "image"
    alt_text: str | None = None


@dataclass(frozen=True)
class OutgoingPost:
    """What to publish for one delivery. `key` is the delivery's business idempotency key ("{postId}:{integrationId}"):
    stable across every retry, so Bluesky's rkey and Mastodon's Idempotency-Key derive from it. `first_attempt_at`
    bounds the check-before-retry lookups (nothing older can be this delivery's post)."""

    key: str
    text: str
    first_attempt_at: datetime
    media: tuple[MediaItem, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishingChannel:
    """The connected channel to publish as: the platform's id for it (user id, page id, Instagram user id, DID),
    its handle, the opened access token, and, for per-instance platforms (Mastodon), the instance's base URL."""

    internal_id: str
    handle: str | None
    access_token: str
    api_base: str | None = None

    def __repr__(self) -> str:  # never print the token
        return f"PublishingChannel({self.internal_id!r}, handle={self.handle!r})"


@dataclass(frozen=True)
class PublishedPost:
    external_id: str
    url: str | None


@dataclass(frozen=True)
class PostMetrics:
    """Counters a platform reports for one post; None where the platform does not report that counter."""

    impressions: int | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    saves: int | None = None
    views: int | None = None

    def as_dict(self) -> dict[str, int]:
        return {name: value for name, value in self.__dict__.items() if value is not None}


class PublishJournal(Protocol):
    """Durable notes of one delivery's publish in progress (stored with the delivery, survive worker crashes)."""

    def get(self, key: str) -> str | None: ...

    async def record(self, key: str, value: str) -> None:
        """Committed before the adapter's next step: what exactly-once depends on (a create call about to be sent)."""
        ...

    def remember(self, key: str, value: str) -> None:
        """Kept with the delivery's outcome, in the same write: a note that only spares a later attempt a lookup
        (the id of the post just created). A crash before the outcome is written loses it, and the lookup that the
        `record`ed notes call for finds the post instead."""
        ...


class PlatformPublisher(Protocol):
    platform: Platform

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        """Publish (or finish publishing) the post. Raises Unconfirmed when the outcome of the creating call is
        unknown, Duplicate/InvalidContent when the platform refuses the content, and the auth/rate/transient classes."""
        ...

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        """The post an earlier attempt of this delivery made, or None when the platform certainly has none.
        Raises Unconfirmed when the platform cannot tell."""
        ...

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics: ...
