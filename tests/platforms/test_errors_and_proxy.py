"""Rate limits, server errors and expiry mapped to the error classes; every call through the account's proxy."""

from __future__ import annotations

import asyncio
import time

import pytest

from domain.channels.connectors import AuthExpired, ProxySpec, RateLimited, Transient
from domain.identity.platforms import Platform
from tests.platforms.conftest import Sandbox, connect
from tests.support.proxies import PproxyServer, socket_owner_pid
from tests.support.proxy_fixtures import PROXY_PASSWORD, PROXY_USERNAME


@pytest.mark.parametrize("platform", list(Platform))
async def test_rate_limit_is_rate_limited_with_the_platform_hint(sandbox: Sandbox, platform: Platform) -> None:
    connected = await connect(sandbox, platform)
    sandbox.fault(platform, "rate_limit", retry_after_s=120)
    with pytest.raises(RateLimited) as caught:
        await connected.connector.profile(access_token=connected.tokens.access_token, proxy=None)
    hint = caught.value.retry_after_s
    if platform == Platform.TIKTOK:
        assert hint is None  # TikTok sends no header: the workflow's own backoff applies
    elif platform == Platform.LINKEDIN:
        assert hint is not None
        assert 0 < hint <= 86_400
    else:
        # x-rate-limit-reset (epoch), X-RateLimit-Reset (ISO), RateLimit-Reset, Meta's minutes to regain access.
        assert hint is not None
        assert 100 <= hint <= 125, hint
    assert connected.tokens.access_token not in str(caught.value)


@pytest.mark.parametrize("platform", list(Platform))
async def test_server_error_is_transient(sandbox: Sandbox, platform: Platform) -> None:
    connected = await connect(sandbox, platform)
    sandbox.fault(platform, "server_error", status=503)
    with pytest.raises(Transient):
        await connected.connector.profile(access_token=connected.tokens.access_token, proxy=None)


@pytest.mark.parametrize(
    "platform",
    [
        Platform.X,
        Platform.LINKEDIN,
        Platform.FACEBOOK,
        Platform.INSTAGRAM,
        Platform.THREADS,
        Platform.TIKTOK,
        Platform.BLUESKY,
    ],
)
async def test_expired_token_is_auth_expired(sandbox: Sandbox, platform: Platform) -> None:
    # Facebook page tokens never expire on their own; the fault stands in for a 190/463 answer.
    connected = await connect(sandbox, platform)
    sandbox.fault(platform, "expire_token")
    with pytest.raises(AuthExpired):
        await connected.connector.profile(access_token=connected.tokens.access_token, proxy=None)


def _spec(proxy: PproxyServer) -> ProxySpec:
    return ProxySpec(proxy.protocol, "127.0.0.1", proxy.port, PROXY_USERNAME, PROXY_PASSWORD)


@pytest.mark.parametrize("kind", ["pproxy_http", "pproxy_socks5"])
@pytest.mark.parametrize("platform", list(Platform))
async def test_every_call_goes_through_the_proxy(
    sandbox: Sandbox, platform: Platform, kind: str, request: pytest.FixtureRequest
) -> None:
    proxy: PproxyServer = request.getfixturevalue(kind)
    spec = _spec(proxy)
    connected = await connect(sandbox, platform, proxy=spec)
    # Hold the profile call open on the sandbox so the peer socket can be inspected while it exists.
    sandbox.fault(platform, "slow", delay_s=1.0)
    call = asyncio.create_task(connected.connector.profile(access_token=connected.tokens.access_token, proxy=spec))
    deadline = time.monotonic() + 5
    owner = None
    while owner is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        pending = [r for r in sandbox.requests(platform) if r["status"] is None]
        if pending:
            owner = socket_owner_pid(pending[-1]["peer_port"], sandbox.port)
    profile = await call
    assert profile.internal_id
    # The TCP peer the sandbox saw is a socket of the pproxy process, not of this test process.
    assert owner == proxy.pid
    assert all(r["peer_host"] == "127.0.0.1" for r in sandbox.requests(platform))


@pytest.mark.parametrize("protocol", ["http", "socks5"])
@pytest.mark.parametrize("platform", list(Platform))
async def test_dead_proxy_is_transient_and_nothing_reaches_the_platform(
    sandbox: Sandbox, platform: Platform, protocol: str, refusing_port: int
) -> None:
    connected = await connect(sandbox, platform)
    before = len(sandbox.requests())
    dead = ProxySpec(protocol, "127.0.0.1", refusing_port, PROXY_USERNAME, PROXY_PASSWORD)
    with pytest.raises(Transient) as caught:
        await connected.connector.profile(access_token=connected.tokens.access_token, proxy=dead)
    assert len(sandbox.requests()) == before
    assert PROXY_PASSWORD not in str(caught.value)
    assert connected.tokens.access_token not in str(caught.value)


async def test_wrong_proxy_password_is_transient(sandbox: Sandbox, pproxy_http: PproxyServer) -> None:
    connected = await connect(sandbox, Platform.X)
    before = len(sandbox.requests())
    wrong = ProxySpec("http", "127.0.0.1", pproxy_http.port, PROXY_USERNAME, "not-the-password")
    with pytest.raises(Transient):
        await connected.connector.profile(access_token=connected.tokens.access_token, proxy=wrong)
    assert len(sandbox.requests()) == before
