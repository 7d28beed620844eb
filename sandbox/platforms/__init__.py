"""One module per imitated platform; `all_platforms()` lists them for the app factory."""

from __future__ import annotations

from sandbox.platforms.base import Platform
from sandbox.platforms.bluesky import Bluesky
from sandbox.platforms.facebook import Facebook
from sandbox.platforms.instagram import Instagram
from sandbox.platforms.linkedin import LinkedIn
from sandbox.platforms.mastodon import Mastodon
from sandbox.platforms.threads import Threads
from sandbox.platforms.tiktok import TikTok
from sandbox.platforms.x import X


def all_platforms() -> list[Platform]:
    return [X(), LinkedIn(), Facebook(), Instagram(), TikTok(), Threads(), Bluesky(), Mastodon()]
