"""Mastodon warming, against the channel's own instance: view the home timeline, favourite a status, follow its
author, reply to it (`in_reply_to_id`, with an Idempotency-Key derived from the action's key)."""

from __future__ import annotations

import hashlib
from typing import Any

from adapters.platforms.base import bearer, require_str, send
from adapters.platforms.config import PlatformEndpoints
from adapters.platforms.warming.common import pick
from domain.channels.connectors import ProxySpec, Transient
from domain.identity.platforms import Platform
from domain.identity.warming import ActionDone, WarmingAction
from domain.publishing.publisher import PublishingChannel


class MastodonWarmer:
    platform = Platform.MASTODON
    allowed = frozenset({WarmingAction.VIEW, WarmingAction.LIKE, WarmingAction.FOLLOW, WarmingAction.REPLY})

    def __init__(self, endpoints: PlatformEndpoints) -> None:
        self.e = endpoints

    async def act(
        self, channel: PublishingChannel, action: WarmingAction, key: str, text: str, *, proxy: ProxySpec | None
    ) -> ActionDone:
        base = (channel.api_base or self.e.api_base).rstrip("/")
        auth = bearer(channel.access_token)
        response = await send(
            self.platform, "GET", f"{base}/api/v1/timelines/home", proxy=proxy, params={"limit": "20"}, headers=auth
        )
        statuses = response.json()
        if not isinstance(statuses, list):
            raise Transient("mastodon: the home timeline is not a list")
        if action == WarmingAction.VIEW:
            return ActionDone(action)
        others = [
            s
            for s in statuses
            if isinstance(s, dict) and str((s.get("account") or {}).get("id")) != channel.internal_id
        ]
        status: dict[str, Any] = pick(others, key, "statuses by others")
        status_id = str(status["id"])
        if action == WarmingAction.LIKE:
            await send(
                self.platform, "POST", f"{base}/api/v1/statuses/{status_id}/favourite", proxy=proxy, headers=auth
            )
            return ActionDone(action, target_id=status_id)
        if action == WarmingAction.FOLLOW:
            author = str(status["account"]["id"])
            await send(self.platform, "POST", f"{base}/api/v1/accounts/{author}/follow", proxy=proxy, headers=auth)
            return ActionDone(action, target_id=author)
        if action == WarmingAction.REPLY:
            idempotency = hashlib.sha256(f"warming:{key}".encode()).hexdigest()[:32]
            reply = await send(
                self.platform, "POST", f"{base}/api/v1/statuses", proxy=proxy, unsafe=True,
                data={"status": text, "in_reply_to_id": status_id, "visibility": "public"},
                headers={**auth, "Idempotency-Key": idempotency},
            )  # fmt: skip
            body = reply.json()
            return ActionDone(action, target_id=status_id, external_id=require_str(self.platform, body, "id"))
        raise ValueError(f"mastodon cannot warm with {action}")
