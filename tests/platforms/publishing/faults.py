"""The fault drills every publisher goes through against the sandbox: inject a fault on one endpoint, publish, and check
what the adapter made of it (the error class, the retry hint, no second post, the proxy carrying the call). Each test
module builds a `Rig` for its platform and calls these with its own endpoints; platform quirks stay in the module."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import pytest

from domain.channels.connectors import Duplicate, ProxySpec, RateLimited, Transient, Unconfirmed
from domain.identity.platforms import Platform
from domain.publishing.publisher import OutgoingPost, PlatformPublisher, PublishedPost, PublishingChannel
from tests.platforms.conftest import Sandbox
from tests.platforms.publishing.journal import MemoryJournal
from tests.support.proxies import PproxyServer, socket_owner_pid
from tests.support.proxy_fixtures import PROXY_PASSWORD, PROXY_USERNAME

E = TypeVar("E", bound=Exception)
PROXIES = ["pproxy_http", "pproxy_socks5"]


@runtime_checkable
class TimesOutCreating(Protocol):
    create_timeout_s: float


@dataclass(frozen=True)
class Rig:
    """A connected channel and its publisher; `post` is what a drill publishes unless it says otherwise."""

    sandbox: Sandbox
    publisher: PlatformPublisher
    channel: PublishingChannel
    post: OutgoingPost

    @property
    def platform(self) -> Platform:
        return self.publisher.platform

    def fault(self, kind: str, endpoint: str, **extra: Any) -> None:
        self.sandbox.fault(self.platform, kind, endpoint=endpoint, **extra)

    async def publish(
        self, journal: MemoryJournal | None = None, post: OutgoingPost | None = None, proxy: ProxySpec | None = None
    ) -> PublishedPost:
        return await self.publisher.publish(
            self.channel, post or self.post, MemoryJournal() if journal is None else journal, proxy=proxy
        )

    def posts(self) -> list[dict[str, Any]]:
        return posts(self.sandbox, self.platform)

    def calls(self, endpoint: str) -> int:
        return calls(self.sandbox, self.platform, endpoint)


def posts(sandbox: Sandbox, platform: Platform) -> list[dict[str, Any]]:
    with sandbox.control() as c:
        found: list[dict[str, Any]] = c.get("/_sandbox/posts", params={"platform": platform.value}).json()["posts"]
        return found


def calls(sandbox: Sandbox, platform: Platform, endpoint: str) -> int:
    return sum(1 for r in sandbox.requests(platform) if r["endpoint"] == endpoint)


def proxy_spec(proxy: PproxyServer) -> ProxySpec:
    return ProxySpec(proxy.protocol, "127.0.0.1", proxy.port, PROXY_USERNAME, PROXY_PASSWORD)


async def refused(
    rig: Rig,
    kind: str,
    endpoint: str,
    error: type[E],
    *,
    journal: MemoryJournal | None = None,
    post: OutgoingPost | None = None,
    **extra: Any,
) -> E:
    """Publishing under the fault raises `error`, whose message never carries the channel's token."""
    rig.fault(kind, endpoint, **extra)
    with pytest.raises(error) as caught:
        await rig.publish(journal, post)
    assert rig.channel.access_token not in str(caught.value)
    return caught.value


async def duplicate(rig: Rig, endpoint: str, journal: MemoryJournal | None = None) -> None:
    await refused(rig, "duplicate", endpoint, Duplicate, journal=journal)
    assert rig.posts() == []


async def rate_limited(rig: Rig, endpoint: str, journal: MemoryJournal | None = None, **extra: Any) -> float | None:
    """The hint the adapter read from the platform's rate-limit answer: what becomes the next retry's delay."""
    return (await refused(rig, "rate_limit", endpoint, RateLimited, journal=journal, **extra)).retry_after_s


async def transient_then_once(rig: Rig, endpoint: str, status: int, *, fresh_journal: bool = False) -> PublishedPost:
    """A server error is Transient, and the retry (same journal unless `fresh_journal`) makes exactly one post."""
    journal = MemoryJournal()
    await refused(rig, "server_error", endpoint, Transient, journal=journal, status=status)
    published = await rig.publish(MemoryJournal() if fresh_journal else journal)
    assert [p["id"] for p in rig.posts()] == [published.external_id]
    return published


async def unconfirmed_then_found(rig: Rig, endpoint: str) -> None:
    """The creating call outlives its timeout: Unconfirmed, then the check finds the post and no second one is made."""
    assert isinstance(rig.publisher, TimesOutCreating)
    rig.publisher.create_timeout_s = 0.3
    journal = MemoryJournal()
    await refused(rig, "slow", endpoint, Unconfirmed, journal=journal, delay_s=1.0)
    await asyncio.sleep(0.8)  # the sandbox finishes the request the client gave up on
    found = await rig.publisher.find_published(rig.channel, rig.post, journal, proxy=None)
    assert found is not None
    assert await rig.publish(journal) == found
    assert [p["id"] for p in rig.posts()] == [found.external_id]
    assert rig.calls(endpoint) == 1


async def through_proxy(
    request: pytest.FixtureRequest,
    kind: str,
    rig_for: Callable[[ProxySpec], Awaitable[Rig]],
    slow: tuple[str, ...],
    paths: tuple[str, ...],
) -> PublishedPost:
    """Every call matching one of `paths` (regexes) came from the proxy process, and the post was made once.

    The `slow` endpoints are held open so the sandbox's peer socket can be traced to the process that opened it; the
    log names a request's endpoint only once it is answered, so the open ones are matched by path."""
    proxy: PproxyServer = request.getfixturevalue(kind)
    spec = proxy_spec(proxy)
    rig = await rig_for(spec)
    for endpoint in slow:
        rig.fault("slow", endpoint, delay_s=1.0)
    call = asyncio.create_task(rig.publish(proxy=spec))
    owners: dict[str, int | None] = {}
    deadline = time.monotonic() + 8
    while len(owners) < len(paths) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        for record in rig.sandbox.requests(rig.platform):
            for path in paths:
                if record["status"] is None and path not in owners and re.search(path, record["path"]):
                    owners[path] = socket_owner_pid(record["peer_port"], rig.sandbox.port)
    published = await call
    assert owners == dict.fromkeys(paths, proxy.pid)
    assert [p["id"] for p in rig.posts()] == [published.external_id]
    return published
