"""Outbound HTTP clients pinned to one account's proxy: no environment proxies, no direct fallback."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import quote

import httpcore
import httpx

ProxyProtocol = Literal["http", "https", "socks5"]
_PROTOCOLS: frozenset[str] = frozenset(get_args(ProxyProtocol))

# Any of these would let a caller route around the account's proxy.
_FORBIDDEN_KWARGS = frozenset({"mounts", "transport", "trust_env"})
# AsyncClient ignores these once it is handed a transport, so they must go to the transport instead.
_TRANSPORT_KWARGS = frozenset({"verify", "cert", "http1", "http2", "limits"})


@dataclass(frozen=True, repr=False)
class ProxyEndpoint:
    protocol: ProxyProtocol
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in _PROTOCOLS:
            raise ValueError(f"unsupported proxy protocol {self.protocol!r}")
        if not self.host or any(c.isspace() or c in "/@?#[]" for c in self.host):
            raise ValueError(f"invalid proxy host {self.host!r}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"invalid proxy port {self.port}")
        if self.password is not None and self.username is None:
            raise ValueError("a proxy password needs a username")
        # RFC 1929 gives each field a one-byte length; longer values would be silently mangled on the wire.
        if self.protocol == "socks5":
            for field in (self.username, self.password):
                if field is not None and len(field.encode()) > 255:
                    raise ValueError("SOCKS5 username and password are limited to 255 bytes each")

    @property
    def address(self) -> str:
        """host:port, safe to show and log."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The full proxy URL, password included: a secret, never log it."""
        if self.username is None:
            return f"{self.protocol}://{self.address}"
        userinfo = quote(self.username, safe="")
        if self.password is not None:
            userinfo += ":" + quote(self.password, safe="")
        return f"{self.protocol}://{userinfo}@{self.address}"

    def __repr__(self) -> str:
        password = None if self.password is None else "***"
        return (
            f"ProxyEndpoint(protocol={self.protocol!r}, host={self.host!r}, port={self.port}, "
            f"username={self.username!r}, password={password!r})"
        )


def build_client(proxy: ProxyEndpoint | None, *, timeout: float = 15.0, **kwargs: Any) -> httpx.AsyncClient:
    """An AsyncClient that sends every request through `proxy` (direct when None: the caller decides whether that is
    allowed). A dead proxy fails the request; nothing retries it without the proxy.

    Failures raise httpx.TransportError subclasses, except a garbled SOCKS5 handshake: httpcore lets that through as
    socksio.ProtocolError."""
    forbidden = _FORBIDDEN_KWARGS & kwargs.keys()
    if forbidden:
        raise TypeError(f"build_client() does not accept {sorted(forbidden)}: they could bypass the account's proxy")
    transport_kwargs = {k: kwargs.pop(k) for k in _TRANSPORT_KWARGS & kwargs.keys()}
    transport_kwargs.setdefault("verify", _default_tls())
    transport = httpx.AsyncHTTPTransport(proxy=_httpx_proxy(proxy), trust_env=False, **transport_kwargs)
    if proxy is not None and proxy.protocol == "socks5":
        _bound_socks_handshake(transport, timeout)
    # An explicit transport already stops httpx from reading HTTP(S)_PROXY/NO_PROXY; trust_env=False also keeps
    # .netrc credentials out of requests to third-party platforms.
    return httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False, **kwargs)


@functools.cache
def _default_tls() -> ssl.SSLContext:
    # httpx would build (and load the CA bundle into) a new context per client: ~4 ms of CPU per platform call.
    # One verifying context, shared, is safe: SSLContext is read-only once built and thread-safe for connections.
    return httpx.create_ssl_context(trust_env=False)


def _httpx_proxy(proxy: ProxyEndpoint | None) -> httpx.Proxy | None:
    if proxy is None:
        return None
    # Credentials go as a tuple, not in the URL, so no percent-encoding round trip can alter them.
    auth = None if proxy.username is None else (proxy.username, proxy.password or "")
    return httpx.Proxy(f"{proxy.protocol}://{proxy.address}", auth=auth)


def _bound_socks_handshake(transport: httpx.AsyncHTTPTransport, timeout: float) -> None:
    # httpcore reads the SOCKS5 handshake without any timeout (encode/httpcore#1015, unfixed in 1.0.9): a proxy that
    # accepts TCP and then stays silent would hang the call forever instead of failing it.
    pool = transport._pool
    if not isinstance(pool, httpcore.AsyncSOCKSProxy):
        raise RuntimeError(f"httpx built {type(pool).__name__} for a SOCKS5 proxy; re-check the handshake timeout fix")
    pool._network_backend = _DefaultTimeoutBackend(pool._network_backend, timeout)


class _DefaultTimeoutBackend(httpcore.AsyncNetworkBackend):
    """Gives every socket read/write that arrives with no timeout this one instead of waiting forever."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _DefaultTimeoutStream(stream, self._timeout)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _DefaultTimeoutStream(httpcore.AsyncNetworkStream):
    # The timeout parameters below are httpcore's stream interface, which this wraps.
    def __init__(self, inner: httpcore.AsyncNetworkStream, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout=self._timeout if timeout is None else timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout=self._timeout if timeout is None else timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.start_tls(
            ssl_context, server_hostname=server_hostname, timeout=self._timeout if timeout is None else timeout
        )
        return _DefaultTimeoutStream(stream, self._timeout)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
