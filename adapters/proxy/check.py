"""Does a proxy work right now, how fast, and which IP do platforms see? Failures come back as short reasons a user can
act on, never as exceptions and never with the proxy's credentials in them."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import socksio

from adapters.proxy.transport import ProxyEndpoint, build_client

AUTH_REJECTED = "proxy authentication rejected (check the username and password)"
REFUSED = "proxy unreachable: connection refused"
HOST_NOT_FOUND = "proxy unreachable: host name not found"
UNREACHABLE = "proxy unreachable: could not connect"
TLS_UNTRUSTED = "TLS error: certificate not trusted"
TLS_FAILED = "TLS error: handshake failed"
CONNECTION_BROKEN = "proxy closed the connection or answered gibberish"
SOCKS_NEEDS_AUTH = "SOCKS5 handshake failed: the proxy probably requires a username and password"
NOT_SOCKS5 = "SOCKS5 handshake failed: is this really a SOCKS5 proxy?"
PROXY_CANNOT_REACH = "proxy could not reach the check URL"
UNEXPECTED_BODY = "unexpected body: the check URL's answer holds no IP address"

# IP echo services answer in a few hundred bytes; anything far bigger is not one.
_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class ProxyCheckResult:
    ok: bool
    latency_ms: int | None
    exit_ip: str | None
    error: str | None


def timed_out(timeout: float) -> str:
    return f"timed out after {timeout:g}s"


def bad_status(status: int) -> str:
    return f"check URL answered status {status}"


async def check_proxy(
    proxy: ProxyEndpoint,
    check_url: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - also sets httpx's per-phase timeouts, not only the overall deadline
) -> ProxyCheckResult:
    """GET `check_url` through `proxy`; `timeout` bounds the whole check, handshakes included."""
    try:
        async with asyncio.timeout(timeout):
            status, body, latency_ms = await _fetch(proxy, check_url, timeout)
    except (TimeoutError, httpx.TimeoutException):
        return _failed(timed_out(timeout))
    except httpx.ProxyError as exc:
        return _failed(_proxy_error_reason(str(exc)))
    except httpx.ConnectError as exc:
        return _failed(_tls_reason(exc) or _connect_reason(exc))
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        return _failed(_tls_reason(exc) or CONNECTION_BROKEN)
    except socksio.ProtocolError:
        # httpcore lets socksio's parse errors through unwrapped: the proxy hung up mid-handshake or is not SOCKS5.
        # Servers that demand credentials we did not offer may hang up instead of answering "no acceptable methods".
        return _failed(SOCKS_NEEDS_AUTH if proxy.username is None else NOT_SOCKS5)

    # A forwarding HTTP proxy reports bad credentials as an ordinary response rather than a tunnel failure.
    if status == 407 and proxy.protocol in ("http", "https"):
        return _failed(AUTH_REJECTED)
    if not 200 <= status < 300:
        return _failed(bad_status(status))
    exit_ip = _exit_ip(body)
    if exit_ip is None:
        return _failed(UNEXPECTED_BODY)
    return ProxyCheckResult(ok=True, latency_ms=latency_ms, exit_ip=exit_ip, error=None)


async def _fetch(proxy: ProxyEndpoint, check_url: str, timeout: float) -> tuple[int, bytes, int]:  # noqa: ASYNC109
    headers = {"Accept": "application/json, text/plain;q=0.9"}
    async with build_client(proxy, timeout=timeout) as client:
        # Started after the client exists: building its TLS context is local work, not proxy latency.
        started = time.perf_counter()
        async with client.stream("GET", check_url, headers=headers) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_BODY:
                    break
        latency_ms = round((time.perf_counter() - started) * 1000)
        return response.status_code, bytes(body), latency_ms


def _failed(reason: str) -> ProxyCheckResult:
    return ProxyCheckResult(ok=False, latency_ms=None, exit_ip=None, error=reason)


def _proxy_error_reason(message: str) -> str:
    # httpcore signals proxy failures only through these message texts (CONNECT status line, SOCKS5 auth replies).
    if message.startswith("407") or message == "Invalid username/password":
        return AUTH_REJECTED
    if message.startswith("Requested") and ("NO ACCEPTABLE METHODS" in message or "got USERNAME/PASSWORD" in message):
        return AUTH_REJECTED
    return PROXY_CANNOT_REACH


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _tls_reason(exc: BaseException) -> str | None:
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TLS_UNTRUSTED
        if isinstance(cause, ssl.SSLError):
            return TLS_FAILED
    return None


def _connect_reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return REFUSED
        if isinstance(cause, socket.gaierror):
            return HOST_NOT_FOUND
    return UNREACHABLE


def _exit_ip(body: bytes) -> str | None:
    try:
        text = body.decode().strip()
    except UnicodeDecodeError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        candidate: object = text
    else:
        candidate = data.get("ip") or data.get("origin") if isinstance(data, dict) else None
    if not isinstance(candidate, str):
        return None
    # httpbin-style services list every hop in "origin"; the first is the address the service saw us come from.
    first = candidate.split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(first))
    except ValueError:
        return None
