"""LinkedIn: the publishing side (stub, to be written)."""

from __future__ import annotations

from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import ProxySpec
from domain.identity.platforms import Platform
from domain.publishing.publisher import OutgoingPost, PostMetrics, PublishedPost, PublishingChannel, PublishJournal


class LinkedInPublisher:
    platform = Platform.LINKEDIN

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    async def publish(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost:
        raise NotImplementedError

    async def find_published(
        self, channel: PublishingChannel, post: OutgoingPost, journal: PublishJournal, *, proxy: ProxySpec | None
    ) -> PublishedPost | None:
        raise NotImplementedError

    async def metrics(
        self, channel: PublishingChannel, published: PublishedPost, *, proxy: ProxySpec | None
    ) -> PostMetrics:
        raise NotImplementedError
