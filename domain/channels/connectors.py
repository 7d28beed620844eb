"""The connection side of a platform: OAuth (or app-password) sign-in, token refresh and revoke, the profile.

One implementation per network lives in adapters/platforms/; every call goes through an HTTP client built for the
Account's proxy (None: a direct connection, which the caller decides to allow).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from domain.identity.platforms import Platform


@dataclass(frozen=True)
class ProxySpec:
    """Where to send a platform call: protocol, host, port and (opened) credentials of the Account's proxy."""

    protocol: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never print the password
        return f"ProxySpec({self.protocol}://{self.host}:{self.port})"


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None  # None: the platform did not (re)send one; keep the stored one
    expires_at: datetime | None  # None: does not expire
    scope: str | None = None

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at!r}, refresh={'yes' if self.refresh_token else 'no'})"


@dataclass(frozen=True)
class PlatformProfile:
    internal_id: str
    name: str
    handle: str | None
    picture: str | None


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    code_verifier: str | None  # PKCE verifier to keep server-side (sealed) until the callback


class ConnectorError(Exception):
    """Base of the error classes of PLATFORMS.md; messages never contain tokens."""


class AuthExpired(ConnectorError):
    """The access token expired: refresh once, then retry."""


class AuthRevoked(ConnectorError):
    """The grant is gone (revoked, invalid refresh token, app removed): the channel needs reconnecting."""


class RateLimited(ConnectorError):
    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidRequest(ConnectorError):
    """The platform refused the request as malformed (bad code, bad verifier, bad redirect): no retry."""


class Transient(ConnectorError):
    """5xx, network or proxy trouble: retry with backoff."""


class Duplicate(ConnectorError):
    """The platform refused the content as a duplicate of an earlier post: no retry."""


class InvalidContent(ConnectorError):
    """Validation, policy or spam refusal of the content itself: no retry. `spam` marks a platform's spam/abuse
    signal, which the account's risk counters take into account."""

    def __init__(self, message: str, *, spam: bool = False) -> None:
        super().__init__(message)
        self.spam = spam


class Unconfirmed(ConnectorError):
    """The request may have reached the platform but its outcome is unknown (timeout after sending): never retry it
    blindly; look the post up first."""


class PlatformConnector(Protocol):
    platform: Platform
    uses_pkce: bool

    def start_authorization(self, *, state: str, redirect_uri: str) -> AuthorizationStart: ...
    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, proxy: ProxySpec | None
    ) -> TokenSet: ...
    async def refresh(self, *, refresh_token: str, proxy: ProxySpec | None) -> TokenSet: ...
    async def revoke(self, *, token: str, proxy: ProxySpec | None) -> None: ...
    async def profile(self, *, access_token: str, proxy: ProxySpec | None) -> PlatformProfile: ...


@runtime_checkable
class ServiceConnector(PlatformConnector, Protocol):
    """A platform signed in with an identifier and an app password on the account's own service (Bluesky's PDS).
    Its sessions are ended (revoked) with the refresh token, not the access token."""

    @property
    def service(self) -> str:
        """The service (PDS) this connector talks to."""
        ...

    async def create_session(
        self, identifier: str, app_password: str, proxy: ProxySpec | None
    ) -> tuple[TokenSet, PlatformProfile]: ...
    def at_service(self, api_base: str) -> ServiceConnector:
        """The same connector, talking to another service (PDS)."""
        ...


@runtime_checkable
class InstanceConnector(PlatformConnector, Protocol):
    """A platform of many instances, where we register an app on each (Mastodon)."""

    instance: str  # the instance this connector talks to (the default one, unless made by for_instance)

    @property
    def scopes(self) -> tuple[str, ...]:
        """What an app registered by register_app asks for."""
        ...

    async def register_app(
        self, instance_base_url: str, redirect_uri: str, proxy: ProxySpec | None
    ) -> tuple[str, str]: ...
    def for_instance(self, instance_base_url: str, client_id: str, client_secret: str) -> InstanceConnector: ...


class ChannelWorkflows(Protocol):
    """Durable processes the channel use cases start (Temporal in adapters/temporal)."""

    async def start_autolink(self, organization_id: str, integration_id: str, platform: Platform) -> None: ...
    async def start_token_refresh(
        self, organization_id: str, integration_id: str, platform: Platform, *, refresh_now: bool = False
    ) -> None: ...
    async def stop_token_refresh(self, integration_id: str) -> None: ...
