from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapters.proxy import ProxyEndpoint, build_client

SECRET = "p@ss:w/rd%?#"


def test_url_percent_encodes_credentials() -> None:
    endpoint = ProxyEndpoint("socks5", "proxy.example", 1080, "us er@x", SECRET)

    assert endpoint.url == "socks5://us%20er%40x:p%40ss%3Aw%2Frd%25%3F%23@proxy.example:1080"
    parsed = httpx.URL(endpoint.url)
    assert (parsed.username, parsed.password, parsed.host, parsed.port) == ("us er@x", SECRET, "proxy.example", 1080)


def test_url_without_credentials_and_with_ipv6_host() -> None:
    assert ProxyEndpoint("http", "::1", 8080).url == "http://[::1]:8080"
    assert ProxyEndpoint("https", "10.0.0.1", 443, "u").url == "https://u@10.0.0.1:443"


def test_repr_and_str_never_show_the_password() -> None:
    endpoint = ProxyEndpoint("http", "10.0.0.1", 3128, "alice", SECRET)

    for text in (repr(endpoint), str(endpoint), f"{endpoint}", repr([endpoint])):
        assert SECRET not in text
        assert "alice" in text
        assert "***" in text
    assert "password=None" in repr(ProxyEndpoint("http", "10.0.0.1", 3128))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"protocol": "ftp"},
        {"port": 0},
        {"port": 65536},
        {"host": ""},
        {"host": "evil.example/path"},
        {"username": None, "password": "orphan"},
        {"username": "x" * 256},
    ],
)
def test_invalid_endpoints_are_rejected(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"protocol": "socks5", "host": "10.0.0.1", "port": 1080, "username": "u"}
    with pytest.raises(ValueError, match=r"\S"):
        ProxyEndpoint(**(base | kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["mounts", "transport", "trust_env"])
def test_build_client_refuses_arguments_that_could_bypass_the_proxy(name: str) -> None:
    options: dict[str, Any] = {name: None}
    with pytest.raises(TypeError, match="bypass"):
        build_client(ProxyEndpoint("http", "10.0.0.1", 3128), **options)


async def test_build_client_passes_other_options_through() -> None:
    async with build_client(None, timeout=3.0, headers={"X-Test": "1"}, http1=True, follow_redirects=True) as client:
        assert client.timeout == httpx.Timeout(3.0)
        assert client.headers["X-Test"] == "1"
        assert client.follow_redirects
        assert not client.trust_env
