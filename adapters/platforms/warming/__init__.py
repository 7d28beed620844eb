"""The engagement side of each platform (warming actions), as far as each API allows it (PLATFORMS.md):

- X: view = home timeline (`GET /2/users/:id/timelines/reverse_chronological`), like `POST /2/users/:id/likes`,
  follow `POST /2/users/:id/following`, reply `POST /2/tweets` with `reply.in_reply_to_tweet_id`.
- Bluesky: view `app.bsky.feed.getTimeline`; like, follow and reply are `com.atproto.repo.createRecord` of an
  `app.bsky.feed.like`, `app.bsky.graph.follow`, or `app.bsky.feed.post` with a `reply` ref.
- Mastodon: view `GET /api/v1/timelines/home`, like `POST /api/v1/statuses/:id/favourite`, follow
  `POST /api/v1/accounts/:id/follow`, reply `POST /api/v1/statuses` with `in_reply_to_id`.
- "post" everywhere a text-only post exists (all but Instagram and TikTok), through the publisher
  (adapters/platforms/publishing).

LinkedIn's social actions, the Graph API's page likes and Threads' replies need partner access or scopes these apps
do not request, so those platforms warm by posting only; Instagram and TikTok publish media only, so they have no
warming action at all and warming cannot start for them. The day's mix degrades to the allowed actions
(domain/identity/warming.py `allowed_mix`)."""

from __future__ import annotations

from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.warming.bluesky import BlueskyWarmer
from adapters.platforms.warming.mastodon import MastodonWarmer
from adapters.platforms.warming.x import XWarmer
from domain.identity.platforms import Platform
from domain.identity.warming import PlatformWarmer


def warmers(endpoints: dict[Platform, PlatformEndpoints]) -> dict[Platform, PlatformWarmer]:
    built: dict[Platform, PlatformWarmer] = {}
    for platform, e in endpoints.items():
        if platform == Platform.X:
            built[platform] = XWarmer(e)
        elif platform == Platform.BLUESKY:
            built[platform] = BlueskyWarmer(e)
        elif platform == Platform.MASTODON:
            built[platform] = MastodonWarmer(e)
    return built
