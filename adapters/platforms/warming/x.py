"""X (API v2) warming: view the home timeline, like a tweet from it, follow its author, reply to it."""

from __future__ import annotations

from typing import Any

from adapters.platforms.base import bearer, json_body, require_str, send
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.warming.common import pick
from domain.channels.connectors import ProxySpec
from domain.identity.platforms import Platform
from domain.identity.warming import ActionDone, WarmingAction
from domain.publishing.publisher import PublishingChannel


class XWarmer:
    platform = Platform.X
    allowed = frozenset({WarmingAction.VIEW, WarmingAction.LIKE, WarmingAction.FOLLOW, WarmingAction.REPLY})

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    async def act(
        self, channel: PublishingChannel, action: WarmingAction, key: str, text: str, *, proxy: ProxySpec | None
    ) -> ActionDone:
        timeline = await self._timeline(channel, proxy)
        if action == WarmingAction.VIEW:
            return ActionDone(action)
        others = [t for t in timeline if str(t.get("author_id")) != channel.internal_id]
        tweet = pick(others, key, "tweets by others")
        tweet_id = str(tweet["id"])
        me = channel.internal_id
        if action == WarmingAction.LIKE:
            await self._post(channel, f"/2/users/{me}/likes", {"tweet_id": tweet_id}, proxy)
            return ActionDone(action, target_id=tweet_id)
        if action == WarmingAction.FOLLOW:
            author = str(tweet["author_id"])
            await self._post(channel, f"/2/users/{me}/following", {"target_user_id": author}, proxy)
            return ActionDone(action, target_id=author)
        if action == WarmingAction.REPLY:
            body = {"text": text, "reply": {"in_reply_to_tweet_id": tweet_id}}
            data = await self._post(channel, "/2/tweets", body, proxy)
            return ActionDone(action, target_id=tweet_id, external_id=require_str(self.platform, data, "id"))
        raise ValueError(f"x cannot warm with {action}")

    async def _timeline(self, channel: PublishingChannel, proxy: ProxySpec | None) -> list[dict[str, Any]]:
        response = await send(
            self.platform,
            "GET",
            f"{self.e.api_base}/2/users/{channel.internal_id}/timelines/reverse_chronological",
            proxy=proxy,
            params={"max_results": "20", "tweet.fields": "author_id"},
            headers=bearer(channel.access_token),
        )
        data = json_body(self.platform, response).get("data") or []
        return [t for t in data if isinstance(t, dict) and t.get("id") and t.get("author_id")]

    async def _post(
        self, channel: PublishingChannel, path: str, payload: dict[str, Any], proxy: ProxySpec | None
    ) -> dict[str, Any]:
        response = await send(
            self.platform, "POST", f"{self.e.api_base}{path}", proxy=proxy, json=payload,
            headers=bearer(channel.access_token),
        )  # fmt: skip
        data = json_body(self.platform, response).get("data")
        return data if isinstance(data, dict) else {}
