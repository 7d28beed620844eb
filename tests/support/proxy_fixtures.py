"""Pytest fixtures for outbound-proxy tests; import them into a conftest or test module.

The proxies are module-scoped (a pproxy subprocess takes a few hundred milliseconds to start); the check server and
the dead ports are per test, so every test starts with an empty hit list.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.proxies import CheckServer, PproxyServer, RefusingPort, SilentServer

PROXY_USERNAME = "alice"
# Characters that must be percent-encoded in a URL, to catch any code path that builds one without encoding.
PROXY_PASSWORD = "s3cr&t:p@ss/w%rd?x"


@pytest.fixture(scope="module")
def pproxy_http() -> Iterator[PproxyServer]:
    """An HTTP proxy requiring Basic auth as PROXY_USERNAME / PROXY_PASSWORD."""
    with PproxyServer("http", PROXY_USERNAME, PROXY_PASSWORD) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def pproxy_socks5() -> Iterator[PproxyServer]:
    """A SOCKS5 proxy requiring username/password auth as PROXY_USERNAME / PROXY_PASSWORD."""
    with PproxyServer("socks5", PROXY_USERNAME, PROXY_PASSWORD) as proxy:
        yield proxy


@pytest.fixture
def proxy_check_server() -> Iterator[CheckServer]:
    with CheckServer() as server:
        yield server


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses every connection: a dead proxy."""
    with RefusingPort() as port:
        yield port.port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never answers: a hung proxy."""
    with SilentServer() as server:
        yield server.port
