"""Outbound proxying against real proxies: pproxy subprocesses (HTTP with Basic auth, SOCKS5 with username/password)
and an IP-echo server on 127.0.0.1. See tests/support/proxies.py for how a relayed request is told from a direct one."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from adapters.proxy import ProxyEndpoint, ProxyProtocol, build_client, check_proxy
from adapters.proxy.check import (
    AUTH_REJECTED,
    NOT_SOCKS5,
    REFUSED,
    SOCKS_NEEDS_AUTH,
    TLS_FAILED,
    UNEXPECTED_BODY,
    bad_status,
    timed_out,
)
from tests.support.net import LOOPBACK
from tests.support.proxies import CheckServer, PproxyServer
from tests.support.proxy_fixtures import PROXY_PASSWORD, PROXY_USERNAME

PROXIES = pytest.mark.parametrize("proxy_fixture", ["pproxy_http", "pproxy_socks5"])
CAN_SEE_SOCKET_OWNERS = Path("/proc/net/tcp").exists()
_ENV_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def _proxy(request: pytest.FixtureRequest, name: str) -> PproxyServer:
    proxy: PproxyServer = request.getfixturevalue(name)
    return proxy


def _assert_relayed_by(check: CheckServer, proxy: PproxyServer) -> None:
    hits = check.hits
    assert len(hits) == 1
    if CAN_SEE_SOCKET_OWNERS:
        assert hits[0].owner_pid == proxy.pid, "the check server's peer socket must belong to the proxy process"
        assert hits[0].owner_pid != os.getpid()


# --- check_proxy -----------------------------------------------------------------------------------------------


@PROXIES
async def test_check_passes_through_a_working_proxy(
    request: pytest.FixtureRequest, proxy_fixture: str, proxy_check_server: CheckServer
) -> None:
    proxy = _proxy(request, proxy_fixture)

    result = await check_proxy(proxy.endpoint(), proxy_check_server.url())

    assert result.ok, result.error
    assert result.error is None
    assert result.exit_ip == LOOPBACK
    assert result.latency_ms is not None
    assert 0 <= result.latency_ms < 10_000
    _assert_relayed_by(proxy_check_server, proxy)


@PROXIES
@pytest.mark.parametrize(("username", "password"), [(PROXY_USERNAME, "wrong-password"), ("mallory", PROXY_PASSWORD)])
async def test_wrong_credentials_are_reported_as_auth_rejected(
    request: pytest.FixtureRequest, proxy_fixture: str, proxy_check_server: CheckServer, username: str, password: str
) -> None:
    proxy = _proxy(request, proxy_fixture)
    # A success from this same client address first: pproxy can whitelist an address once it authenticated
    # (tests/support disables that), and a proxy doing so must not make bad credentials look fine.
    assert (await check_proxy(proxy.endpoint(), proxy_check_server.url())).ok

    result = await check_proxy(proxy.endpoint(username=username, password=password), proxy_check_server.url())

    assert result == result.__class__(ok=False, latency_ms=None, exit_ip=None, error=AUTH_REJECTED)
    assert len(proxy_check_server.hits) == 1, "the rejected attempt must not reach the check server"


async def test_missing_credentials_on_http_proxy_are_auth_rejected(
    pproxy_http: PproxyServer,
    proxy_check_server: CheckServer,
) -> None:
    endpoint = ProxyEndpoint("http", LOOPBACK, pproxy_http.port)

    result = await check_proxy(endpoint, proxy_check_server.url())

    assert (result.ok, result.error) == (False, AUTH_REJECTED)
    assert proxy_check_server.hits == []


async def test_missing_credentials_on_socks5_proxy_point_at_auth(
    pproxy_socks5: PproxyServer,
    proxy_check_server: CheckServer,
) -> None:
    endpoint = ProxyEndpoint("socks5", LOOPBACK, pproxy_socks5.port)

    result = await check_proxy(endpoint, proxy_check_server.url())

    assert (result.ok, result.error) == (False, SOCKS_NEEDS_AUTH)
    assert proxy_check_server.hits == []


async def test_socks5_endpoint_on_an_http_proxy_is_not_socks5(
    pproxy_http: PproxyServer,
    proxy_check_server: CheckServer,
) -> None:
    endpoint = ProxyEndpoint("socks5", LOOPBACK, pproxy_http.port, PROXY_USERNAME, PROXY_PASSWORD)

    result = await check_proxy(endpoint, proxy_check_server.url())

    assert (result.ok, result.error) == (False, NOT_SOCKS5)


@pytest.mark.parametrize("protocol", ["http", "socks5"])
async def test_dead_proxy_is_reported_unreachable(
    protocol: ProxyProtocol,
    refusing_port: int,
    proxy_check_server: CheckServer,
) -> None:
    endpoint = ProxyEndpoint(protocol, LOOPBACK, refusing_port, PROXY_USERNAME, PROXY_PASSWORD)

    result = await check_proxy(endpoint, proxy_check_server.url())

    assert result == result.__class__(ok=False, latency_ms=None, exit_ip=None, error=REFUSED)
    assert proxy_check_server.hits == []


@pytest.mark.parametrize("protocol", ["http", "socks5"])
async def test_hung_proxy_times_out_within_the_budget(
    protocol: ProxyProtocol,
    silent_port: int,
) -> None:
    endpoint = ProxyEndpoint(protocol, LOOPBACK, silent_port, PROXY_USERNAME, PROXY_PASSWORD)

    started = time.monotonic()
    async with asyncio.timeout(10):  # a regression must fail the test, not hang the suite
        result = await check_proxy(endpoint, "http://127.0.0.1:9/", timeout=0.5)

    assert (result.ok, result.error) == (False, timed_out(0.5))
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("path", "ok", "error"),
    [
        ("/origin", True, None),
        ("/text", True, None),
        ("/garbage", False, UNEXPECTED_BODY),
        ("/status/503", False, bad_status(503)),
    ],
)
async def test_check_url_answers_are_interpreted(
    pproxy_http: PproxyServer,
    proxy_check_server: CheckServer,
    path: str,
    ok: bool,
    error: str | None,
) -> None:
    result = await check_proxy(pproxy_http.endpoint(), proxy_check_server.url(path))

    assert (result.ok, result.error) == (ok, error)
    assert result.exit_ip == (LOOPBACK if ok else None)


async def test_slow_check_url_times_out(
    pproxy_socks5: PproxyServer,
    proxy_check_server: CheckServer,
) -> None:
    result = await check_proxy(pproxy_socks5.endpoint(), proxy_check_server.url("/slow"), timeout=0.5)

    assert (result.ok, result.error) == (False, timed_out(0.5))


@PROXIES
async def test_tls_failure_is_reported(
    request: pytest.FixtureRequest, proxy_fixture: str, proxy_check_server: CheckServer
) -> None:
    # The check server speaks plain HTTP, so a TLS handshake with it through the tunnel fails.
    https_url = f"https://{LOOPBACK}:{proxy_check_server.port}/"

    result = await check_proxy(_proxy(request, proxy_fixture).endpoint(), https_url)

    assert (result.ok, result.error) == (False, TLS_FAILED)


async def test_no_failure_reason_reveals_the_password(
    pproxy_http: PproxyServer,
    pproxy_socks5: PproxyServer,
    refusing_port: int,
    proxy_check_server: CheckServer,
) -> None:
    secret = "Wrong-But-Secret-9f3a"
    endpoints = [
        pproxy_http.endpoint(password=secret),
        pproxy_socks5.endpoint(password=secret),
        ProxyEndpoint("http", LOOPBACK, refusing_port, PROXY_USERNAME, secret),
        ProxyEndpoint("socks5", LOOPBACK, refusing_port, PROXY_USERNAME, secret),
        ProxyEndpoint("socks5", LOOPBACK, pproxy_http.port, PROXY_USERNAME, secret),
    ]
    for endpoint in endpoints:
        result = await check_proxy(endpoint, proxy_check_server.url())
        assert not result.ok
        assert result.error
        assert secret not in result.error
        assert secret not in repr(result)


# --- build_client: routing --------------------------------------------------------------------------------------


@PROXIES
async def test_client_request_is_relayed_by_the_proxy(
    request: pytest.FixtureRequest,
    proxy_fixture: str,
    proxy_check_server: CheckServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = _proxy(request, proxy_fixture)
    # Environment settings that would send a client direct, if it honoured them.
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")

    async with (
        build_client(proxy.endpoint()) as client,
        client.stream("GET", proxy_check_server.url()) as response,
    ):
        sock = response.extensions["network_stream"].get_extra_info("socket")
        client_local, client_remote = sock.getsockname(), sock.getpeername()
        await response.aread()

    assert response.status_code == 200
    # The test's own TCP connection ends at the proxy...
    assert client_remote == (LOOPBACK, proxy.port)
    # ...and the connection that reached the check server is a different one, opened by the proxy process.
    _assert_relayed_by(proxy_check_server, proxy)
    assert proxy_check_server.hits[0].peer_port != client_local[1]


async def test_direct_client_is_seen_as_direct_and_ignores_proxy_env(
    proxy_check_server: CheckServer,
    refusing_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control for the relay proof: the same measurement attributes a direct request to this test process."""
    for var in _ENV_PROXY_VARS:
        monkeypatch.setenv(var, f"http://{LOOPBACK}:{refusing_port}")

    async with build_client(None) as client, client.stream("GET", proxy_check_server.url()) as response:
        client_local = response.extensions["network_stream"].get_extra_info("socket").getsockname()
        await response.aread()

    assert response.status_code == 200
    [hit] = proxy_check_server.hits
    assert hit.peer_port == client_local[1]
    if CAN_SEE_SOCKET_OWNERS:
        assert hit.owner_pid == os.getpid()


@pytest.mark.parametrize("protocol", ["http", "socks5"])
async def test_client_for_a_dead_proxy_fails_and_never_goes_direct(
    protocol: ProxyProtocol,
    refusing_port: int,
    proxy_check_server: CheckServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")
    endpoint = ProxyEndpoint(protocol, LOOPBACK, refusing_port, PROXY_USERNAME, PROXY_PASSWORD)

    async with build_client(endpoint, timeout=2) as client:
        for _ in range(3):
            with pytest.raises(httpx.ConnectError):
                await client.get(proxy_check_server.url())

    assert proxy_check_server.hits == []


async def test_client_for_a_hung_socks5_proxy_fails_instead_of_hanging(
    silent_port: int,
    proxy_check_server: CheckServer,
) -> None:
    """httpcore 1.0.9 reads the SOCKS5 handshake with no timeout; build_client must bound it."""
    endpoint = ProxyEndpoint("socks5", LOOPBACK, silent_port, PROXY_USERNAME, PROXY_PASSWORD)

    async with asyncio.timeout(10), build_client(endpoint, timeout=0.5) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(proxy_check_server.url())

    assert proxy_check_server.hits == []
