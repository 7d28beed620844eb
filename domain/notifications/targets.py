"""Where outgoing webhooks may be sent: public internet addresses only, unless the deployment allows private ones.

A webhook URL is chosen by any organization's admin, and the worker that POSTs to it sits inside the deployment's
network: without this rule a URL could reach the cloud's metadata service, the database or an internal admin page
(server-side request forgery). The URL's host is checked when the webhook is saved (an address or `localhost`
written in it), and again when each request is sent, against every address its name resolves to then, since a
name can point anywhere later. Deployments whose receivers live on a private network (and local development) set
WEBHOOK_PRIVATE_TARGETS=true.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Protocol


class RefusedTarget(Exception):
    """The URL leads to an address webhooks may not reach; sending again will not help."""


@dataclass(frozen=True)
class ReceiverAnswer:
    status_code: int
    snippet: str  # the start of the body, whitespace collapsed
    retry_after: str | None


class WebhookPoster(Protocol):
    async def __call__(self, url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> ReceiverAnswer:
        """POST once; raises RefusedTarget, or httpx.HTTPError when the receiver cannot be reached."""
        ...


def non_public(address: str) -> bool:
    """True for loopback, private, link-local (cloud metadata), shared, reserved, unspecified and multicast
    addresses, including IPv4 ones written as IPv6 (`::ffff:10.0.0.1`)."""
    ip = ipaddress.ip_address(address.partition("%")[0])  # an IPv6 zone (`fe80::1%eth0`) names no other address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def refused_host(host: str) -> str | None:
    """Why a URL's host is refused as written (an address or a name for this machine), or None. Names are checked
    when they are resolved, at each sending."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} names this machine"
    try:
        refused = non_public(name)
    except ValueError:
        return None  # a name, not an address
    return f"{host} is not a public internet address" if refused else None
