"""The publishing side of each imitated platform. Importing this package registers every platform's publishing
routes with sandbox.registry (the app factory imports it)."""

from __future__ import annotations

from sandbox.publishing import bluesky, facebook, instagram, linkedin, mastodon, threads, tiktok, x

__all__ = ["bluesky", "facebook", "instagram", "linkedin", "mastodon", "threads", "tiktok", "x"]
