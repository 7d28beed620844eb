"""A publishing desk for the post tests: the API, the real workers (as worker.py builds them) on a real Temporal dev
server, the platform sandbox, and helpers to connect a channel with its soul, account and proxy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from domain.identity.platforms import Platform
from tests.conftest import Api
from tests.platforms.conftest import Sandbox, browser_step
from tests.support.proxies import PproxyServer
from worker import build_workers

# The sandbox's auto-approved test user on the OAuth platforms.
SANDBOX_HANDLE = "sandboxbrand"


@dataclass
class Channel:
    platform: Platform
    soul_id: str
    account_id: str
    integration_id: str


@dataclass
class Desk:
    api: Api
    h: dict[str, str]
    sandbox: Sandbox
    client: Client
    channels: list[Channel] = field(default_factory=list)

    async def proxy(self, server: PproxyServer | None = None, *, port: int | None = None) -> str:
        body = {
            "name": f"proxy-{server.protocol if server else 'dead'}",
            "type": "datacenter",
            "protocol": server.protocol if server else "http",
            "host": "127.0.0.1",
            "port": server.port if server else port,
            "credentials": {
                "username": server.username if server else "nobody",
                "password": self.api.secret(server.password if server else "no-password-here"),
            },
        }
        response = await self.api.http.post("/axon/proxies", json=body, headers=self.h)
        assert response.status_code == 201, response.text
        proxy_id: str = response.json()["id"]
        return proxy_id

    async def channel(
        self, platform: Platform, *, proxy_id: str | None, soul_id: str | None = None, status: str = "active"
    ) -> Channel:
        """Connect the platform through the API, then give it an account (with the proxy) on a soul and map it."""
        start = (await self.api.http.get(f"/integrations/social/{platform.value}", headers=self.h)).json()
        connected = await self.api.http.post(
            f"/integrations/social/{platform.value}/connect", json=browser_step(start["url"]), headers=self.h
        )
        assert connected.status_code == 200, connected.text
        integration_id: str = connected.json()["id"]
        await self.autolink_done(integration_id)
        if soul_id is None:
            soul = await self.api.http.post("/axon/souls", json={"name": f"Brand {platform.value}"}, headers=self.h)
            soul_id = soul.json()["id"]
        # Not the sandbox user's handle: auto-link must not race the explicit link below.
        handle = f"brand{platform.value[:5]}{len(self.channels)}"
        if platform == Platform.BLUESKY:
            handle = f"{handle}.bsky.social"
        body = {"soulId": soul_id, "platform": platform.value, "handle": handle, "status": status, "proxyId": proxy_id}
        account = await self.api.http.post("/axon/accounts", json=body, headers=self.h)
        assert account.status_code == 201, account.text
        account_id: str = account.json()["id"]
        linked = await self.api.http.patch(
            f"/axon/accounts/{account_id}/integration", json={"integrationId": integration_id}, headers=self.h
        )
        assert linked.status_code == 200, linked.text
        mapped = await self.api.http.post(
            "/axon/matrix/mappings", json={"soulId": soul_id, "integrationId": integration_id}, headers=self.h
        )
        assert mapped.status_code == 201, mapped.text
        channel = Channel(platform, soul_id, account_id, integration_id)
        self.channels.append(channel)
        return channel

    async def autolink_done(self, integration_id: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(20):
                await self.client.get_workflow_handle(f"autolink:{integration_id}").result()

    async def post(self, **body: Any) -> dict[str, Any]:
        response = await self.api.http.post("/axon/posts", json=body, headers=self.h)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def get(self, post_id: str) -> dict[str, Any]:
        response = await self.api.http.get(f"/axon/posts/{post_id}", headers=self.h)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def settled(self, post_id: str, within_s: float = 30) -> dict[str, Any]:
        """The post once no delivery is QUEUE or PUBLISHING."""

        def finished(post: dict[str, Any]) -> bool:
            return all(d["state"] not in ("QUEUE", "PUBLISHING") for d in post["deliveries"])

        return await self.until(post_id, finished, within_s)

    async def until(
        self, post_id: str, check: Callable[[dict[str, Any]], bool], within_s: float = 30
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            post = await self.get(post_id)
            if check(post):
                return post
            assert asyncio.get_running_loop().time() < deadline, f"post never reached the state: {post}"
            await asyncio.sleep(0.2)

    def platform_posts(self, platform: Platform) -> list[dict[str, Any]]:
        with self.sandbox.control() as c:
            posts: list[dict[str, Any]] = c.get("/_sandbox/posts", params={"platform": platform.value}).json()["posts"]
        return posts


@contextlib.asynccontextmanager
async def running_workers(api: Api, client: Client) -> AsyncIterator[None]:
    """The worker process's workers (the `souls` queue and one per platform), in this process."""
    workers = build_workers(client, api.container.settings, api.container.uow, api.container.documents)
    async with contextlib.AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        yield


def desk_settings(sandbox: Sandbox, task_queue: str, **overrides: Any) -> dict[str, Any]:
    return {
        "sandbox_port": sandbox.port,
        "post_heartbeat_timeout_s": 3.0,
        "post_metrics_offsets_s": [1.0],
        "post_publish_attempts": 3,
        "platform_queue_prefix": f"{task_queue}-",
        **overrides,
    }
