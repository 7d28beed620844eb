"""One connector per platform for a given set of endpoints (sandbox or real: see config.endpoints)."""

from __future__ import annotations

from adapters.platforms.bluesky import BlueskyConnector
from adapters.platforms.config import PlatformEndpoints, endpoints
from adapters.platforms.facebook import FacebookConnector
from adapters.platforms.instagram import InstagramConnector
from adapters.platforms.linkedin import LinkedInConnector
from adapters.platforms.mastodon import MastodonConnector
from adapters.platforms.threads import ThreadsConnector
from adapters.platforms.tiktok import TikTokConnector
from adapters.platforms.x import XConnector
from domain.channels.connectors import PlatformConnector
from domain.identity.platforms import Platform
from settings import Settings


def connectors(endpoints: dict[Platform, PlatformEndpoints]) -> dict[Platform, PlatformConnector]:
    """Connectors for the platforms present in `endpoints`. Mastodon's is bound to the default instance; use
    MastodonConnector.for_instance() for others. Facebook's takes the user's only page (see facebook.py)."""
    built: dict[Platform, PlatformConnector] = {}
    for platform, e in endpoints.items():
        built[platform] = _make(platform, e)
    return built


def _make(platform: Platform, e: PlatformEndpoints) -> PlatformConnector:
    match platform:
        case Platform.X:
            return XConnector(e)
        case Platform.LINKEDIN:
            return LinkedInConnector(e)
        case Platform.FACEBOOK:
            return FacebookConnector(e)
        case Platform.INSTAGRAM:
            return InstagramConnector(e)
        case Platform.THREADS:
            return ThreadsConnector(e)
        case Platform.TIKTOK:
            return TikTokConnector(e)
        case Platform.BLUESKY:
            return BlueskyConnector(e)
        case Platform.MASTODON:
            return MastodonConnector(e)


def platform_connectors(settings: Settings) -> dict[Platform, PlatformConnector]:
    sandbox = settings.sandbox_url if settings.platform_api == "sandbox" else None
    credentials = {Platform.parse(name): pair for name, pair in settings.platform_credentials.items()}
    return connectors(endpoints(sandbox_url=sandbox, credentials=credentials))
