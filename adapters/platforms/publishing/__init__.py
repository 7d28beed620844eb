"""One publisher per platform (the publishing side of the adapters), built for a set of endpoints."""

from __future__ import annotations

from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.publishing.bluesky import BlueskyPublisher
from adapters.platforms.publishing.facebook import FacebookPublisher
from adapters.platforms.publishing.instagram import InstagramPublisher
from adapters.platforms.publishing.linkedin import LinkedInPublisher
from adapters.platforms.publishing.mastodon import MastodonPublisher
from adapters.platforms.publishing.threads import ThreadsPublisher
from adapters.platforms.publishing.tiktok import TikTokPublisher
from adapters.platforms.publishing.x import XPublisher
from domain.identity.platforms import Platform
from domain.publishing.publisher import PlatformPublisher


def publishers(endpoints: dict[Platform, PlatformEndpoints]) -> dict[Platform, PlatformPublisher]:
    built: dict[Platform, PlatformPublisher] = {}
    for platform, e in endpoints.items():
        built[platform] = _make(platform, e)
    return built


def _make(platform: Platform, e: PlatformEndpoints) -> PlatformPublisher:
    match platform:
        case Platform.X:
            return XPublisher(e)
        case Platform.LINKEDIN:
            return LinkedInPublisher(e)
        case Platform.FACEBOOK:
            return FacebookPublisher(e)
        case Platform.INSTAGRAM:
            return InstagramPublisher(e)
        case Platform.THREADS:
            return ThreadsPublisher(e)
        case Platform.TIKTOK:
            return TikTokPublisher(e)
        case Platform.BLUESKY:
            return BlueskyPublisher(e)
        case Platform.MASTODON:
            return MastodonPublisher(e)
