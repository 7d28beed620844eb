"""Apps we register on a platform at runtime (Mastodon: one per instance and redirect URI), and picking the connector
for a stored channel: its own instance and app (Mastodon), its own PDS (Bluesky), else the platform's default one.

A registered app's client secret is sealed, bound to `platform_apps/<id>` and `clientSecret`."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping as MappingType
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel

from domain.channels.connectors import InstanceConnector, PlatformConnector, ServiceConnector
from domain.channels.integrations import Integration
from domain.errors import InvalidInput
from domain.identity.platforms import Platform

if TYPE_CHECKING:  # domain.ports names this module's repository: importing it at run time would be circular
    from domain.ports import FieldSealer, UnitOfWorkFactory


class PlatformApp(BaseModel):
    id: str
    platform: Platform
    api_base: str  # the instance, normalized (see normalize_base)
    client_id: str
    client_secret: dict[str, str]  # sealed
    scopes: str  # space-separated, as registered
    redirect_uri: str
    created_at: datetime

    def __repr__(self) -> str:  # the sealed secret has no business in a log line either
        return f"PlatformApp({self.platform.value} {self.api_base} {self.client_id})"


def app_record(app_id: str) -> str:
    return f"platform_apps/{app_id}"


class PlatformAppRepository(Protocol):
    async def add(self, app: PlatformApp) -> bool:
        """Store the app; False (and nothing stored) when this instance and redirect URI already have one."""
        ...

    async def get(self, platform: Platform, api_base: str, redirect_uri: str) -> PlatformApp | None: ...
    async def for_instance(self, platform: Platform, api_base: str) -> list[PlatformApp]:
        """Every app registered on the instance, newest first."""
        ...


_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def _same_host(a: str, b: str) -> bool:
    # The sandbox binds loopback, which the user may write either way.
    return a == b or (a in _LOOPBACK_NAMES and b in _LOOPBACK_NAMES)


def normalize_base(raw: str, *, field: str, dev_base: str | None, what: str) -> str:
    """A platform base URL the server may call: `https://host[:port]` with no path, query, fragment or user info; or
    any URL below `dev_base` (the configured sandbox), which serves each platform under a path and over plain http.
    Lower-case scheme and host, no default port, no trailing slash. Anything else → InvalidInput (422)."""

    def bad(reason: str) -> InvalidInput:
        return InvalidInput(f"The {what} must be an https URL with no path or query ({reason}).", field=field,
                            code="invalid_instance_url")  # fmt: skip

    text = raw.strip()
    if not text or len(text) > 2048:
        raise bad("it is empty or too long")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise bad("it is not a URL") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host:
        raise bad("it is not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise bad("it carries user info")
    if parts.query or parts.fragment:
        raise bad("it has a query or fragment")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and not (scheme == "https" and port == 443) and not (scheme == "http" and port == 80):
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    if dev_base is not None:
        dev = urlsplit(dev_base)
        if scheme == dev.scheme and _same_host(host, dev.hostname or "") and port == dev.port:
            return f"{scheme}://{netloc}{path}"
    if scheme != "https":
        raise bad("plain http is only accepted for the configured sandbox")
    if path:
        raise bad("it has a path")
    if host in _LOOPBACK_NAMES or host.endswith(".localhost") or _private_address(host):
        raise bad("it names a local or private address")
    return f"{scheme}://{netloc}"


def _private_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


async def connector_for(
    integration: Integration,
    connectors: MappingType[Platform, PlatformConnector],
    uows: UnitOfWorkFactory,
    sealer: FieldSealer,
    *,
    redirect_uri: str | None = None,
) -> PlatformConnector | None:
    """The connector that talks to this channel's own host with the app its token was issued to; None when the
    platform has no connector. A Mastodon channel whose instance has no app on record keeps the default connector
    (its calls then fail as the platform decides, which the callers handle)."""
    connector = connectors.get(integration.provider_identifier)
    if connector is None or not integration.api_base:
        return connector
    if isinstance(connector, InstanceConnector):
        async with uows.reading() as uow:
            apps = await uow.platform_apps.for_instance(integration.provider_identifier, integration.api_base)
        if not apps:
            return connector
        # The app of the current redirect URI, else the newest: tokens are issued to one app per instance and URI.
        app = next((a for a in apps if a.redirect_uri == redirect_uri), apps[0])
        secret = sealer.decrypt_str(app.client_secret, record=app_record(app.id), field="clientSecret")
        return connector.for_instance(integration.api_base, app.client_id, secret)
    if isinstance(connector, ServiceConnector):
        return connector.at_service(integration.api_base)
    return connector
