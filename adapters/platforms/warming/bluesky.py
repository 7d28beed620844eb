"""Bluesky warming (AT Protocol): view the timeline, like a post (`app.bsky.feed.like` record), follow its author
(`app.bsky.graph.follow`), reply to it (an `app.bsky.feed.post` with a `reply` ref)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.platforms.base import bearer, json_body, require_str, send
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.warming.common import pick
from domain.channels.connectors import ProxySpec
from domain.identity.platforms import Platform
from domain.identity.warming import ActionDone, WarmingAction
from domain.publishing.publisher import PublishingChannel


class BlueskyWarmer:
    platform = Platform.BLUESKY
    allowed = frozenset({WarmingAction.VIEW, WarmingAction.LIKE, WarmingAction.FOLLOW, WarmingAction.REPLY})

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    def _xrpc(self, channel: PublishingChannel, method: str) -> str:
        return f"{(channel.api_base or self.e.api_base).rstrip('/')}/xrpc/{method}"

    async def act(
        self, channel: PublishingChannel, action: WarmingAction, key: str, text: str, *, proxy: ProxySpec | None
    ) -> ActionDone:
        auth = bearer(channel.access_token)
        response = await send(
            self.platform, "GET", self._xrpc(channel, "app.bsky.feed.getTimeline"), proxy=proxy,
            params={"limit": "20"}, headers=auth,
        )  # fmt: skip
        feed = json_body(self.platform, response).get("feed") or []
        posts = [item["post"] for item in feed if isinstance(item, dict) and isinstance(item.get("post"), dict)]
        if action == WarmingAction.VIEW:
            return ActionDone(action)
        others = [p for p in posts if str((p.get("author") or {}).get("did")) != channel.internal_id]
        post: dict[str, Any] = pick(others, key, "posts by others")
        subject = {"uri": str(post["uri"]), "cid": str(post["cid"])}
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        if action == WarmingAction.LIKE:
            record: dict[str, Any] = {"$type": "app.bsky.feed.like", "subject": subject, "createdAt": now}
        elif action == WarmingAction.FOLLOW:
            author = str(post["author"]["did"])
            record = {"$type": "app.bsky.graph.follow", "subject": author, "createdAt": now}
        elif action == WarmingAction.REPLY:
            record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": now,
                      "reply": {"root": subject, "parent": subject}}  # fmt: skip
        else:
            raise ValueError(f"bluesky cannot warm with {action}")
        created = await send(
            self.platform, "POST", self._xrpc(channel, "com.atproto.repo.createRecord"), proxy=proxy,
            unsafe=action == WarmingAction.REPLY, headers=auth,
            json={"repo": channel.internal_id, "collection": record["$type"], "record": record},
        )  # fmt: skip
        uri = require_str(self.platform, json_body(self.platform, created), "uri")
        target = str(record["subject"]) if action == WarmingAction.FOLLOW else subject["uri"]
        return ActionDone(action, target_id=target, external_id=uri)
