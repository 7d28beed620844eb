"""One webhook POST, sent only to an address the deployment allows (domain.notifications.targets).

The URL's name is resolved here, every address it resolves to is checked, and the request goes to the checked
address itself (the name stays in the Host header and, for https, in the TLS server name, so the certificate is
verified against it). Connecting by name instead would resolve it a second time, and a name that answered with a
public address to the check could answer with a private one to the connection (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import httpx

from domain.notifications.targets import ReceiverAnswer, RefusedTarget, non_public

SNIPPET_BYTES = 300


class HttpWebhookPoster:
    """domain.notifications.targets.WebhookPoster over httpx; `private_targets` lifts the address rule."""

    def __init__(self, *, private_targets: bool) -> None:
        self._private_targets = private_targets

    async def __call__(self, url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> ReceiverAnswer:
        return await post_webhook(url, body, headers, timeout_s=timeout_s, private_targets=self._private_targets)


async def post_webhook(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float,
    private_targets: bool,
    refused: Callable[[str], bool] = non_public,
) -> ReceiverAnswer:
    """POST without following redirects or reading more of the answer than a short snippet. Raises RefusedTarget,
    or httpx.HTTPError when the receiver cannot be reached (a name that does not resolve is one). `refused`: which
    resolved addresses may not be reached (unless `private_targets`)."""
    target = httpx.URL(url)
    extensions: dict[str, str] = {}
    if not private_targets:
        target, headers, extensions = await _pinned(target, headers, refused)
    async with (
        httpx.AsyncClient(timeout=timeout_s, trust_env=False, follow_redirects=False) as http,
        http.stream("POST", target, content=body, headers=headers, extensions=extensions) as response,
    ):
        received = b""
        async for chunk in response.aiter_bytes():
            received += chunk
            if len(received) >= SNIPPET_BYTES:
                break
        snippet = " ".join(received[:SNIPPET_BYTES].decode(errors="replace").split())
        return ReceiverAnswer(response.status_code, snippet, response.headers.get("Retry-After"))


async def _pinned(
    url: httpx.URL, headers: dict[str, str], refused: Callable[[str], bool]
) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The URL with its host replaced by the one address it will be sent to, and what keeps the name for the
    receiver (Host header, TLS server name). An address in the URL resolves to itself, `localhost` to loopback."""
    host = url.raw_host.decode("ascii")  # the IDNA form of a name, an IPv6 address without brackets
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpx.ConnectError(f"{url.host} does not resolve ({exc.strerror})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    private = [a for a in addresses if refused(a)]
    if private or not addresses:
        # All or nothing: a name with one private address among public ones is refused too.
        raise RefusedTarget(f"{url.host} resolves to {', '.join(private) or 'no address'}, not a public address")
    pinned = url.copy_with(host=addresses[0])
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return pinned, {**headers, "Host": url.netloc.decode("ascii")}, extensions
