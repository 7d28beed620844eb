"""Sandbox configuration: per-platform app credentials, the auto-approved test user and token lifetimes.

Defaults follow PLATFORMS.md; tests shrink the lifetimes (0 means "already expired when issued")."""

from __future__ import annotations

from dataclasses import dataclass, field

DAY = 86_400
HOUR = 3_600

# Registered redirect URIs are fnmatch globs: real platforms require pre-registration, and a glob keeps any local
# port usable while a foreign host is still rejected.
LOCAL_REDIRECTS = ("http://127.0.0.1:*", "http://localhost:*")


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a pytest test class despite the name

    id: str
    name: str
    handle: str
    picture: str
    email: str = "sandbox@example.com"


@dataclass(frozen=True)
class TestPage:
    """A Facebook Page the test user manages (its page token never expires)."""

    id: str
    name: str
    category: str = "Brand"


@dataclass(frozen=True)
class PlatformConfig:
    client_id: str
    client_secret: str
    user: TestUser
    redirect_uris: tuple[str, ...] = LOCAL_REDIRECTS
    access_ttl_s: int | None = 2 * HOUR  # None: never expires (Mastodon)
    refresh_ttl_s: int | None = None  # None: refresh token does not expire on its own
    code_ttl_s: int = 600
    # X: confidential clients authenticate with HTTP Basic; public clients send client_id in the form.
    confidential: bool = True
    # LinkedIn only issues refresh tokens to approved partners.
    issue_refresh_token: bool = True
    # Meta long-lived tokens (fb_exchange_token / ig_exchange_token / th_exchange_token).
    long_lived_ttl_s: int = 60 * DAY
    # Instagram/Threads refuse to refresh a long-lived token younger than 24 h.
    min_refresh_age_s: int = DAY
    # Bluesky: app password accepted by createSession.
    app_password: str = "abcd-efgh-ijkl-mnop"  # noqa: S105 - fixed test credential of a fake service
    pages: tuple[TestPage, ...] = ()


def _user(platform: str, handle: str) -> TestUser:
    return TestUser(
        id=f"{platform}-user-1",
        name="Sandbox Brand",
        handle=handle,
        picture=f"https://sandbox.invalid/{platform}/avatar.png",
    )


def _default(platform: str, **overrides: object) -> PlatformConfig:
    base: dict[str, object] = {
        "client_id": f"{platform}-client-id",
        "client_secret": f"{platform}-client-secret",
        "user": _user(platform, "sandboxbrand"),
    }
    base.update(overrides)
    return PlatformConfig(**base)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SandboxConfig:
    x: PlatformConfig = field(
        default_factory=lambda: _default(
            "x",
            user=TestUser("1460000000000000001", "Sandbox Brand", "sandboxbrand", "https://pbs.twimg.invalid/a.png"),
        )
    )
    linkedin: PlatformConfig = field(
        default_factory=lambda: _default("linkedin", access_ttl_s=60 * DAY, refresh_ttl_s=365 * DAY)
    )
    facebook: PlatformConfig = field(
        default_factory=lambda: _default(
            "facebook", access_ttl_s=HOUR, pages=(TestPage("100000000000001", "Sandbox Page"),)
        )
    )
    instagram: PlatformConfig = field(default_factory=lambda: _default("instagram", access_ttl_s=HOUR))
    tiktok: PlatformConfig = field(
        default_factory=lambda: _default("tiktok", access_ttl_s=DAY, refresh_ttl_s=365 * DAY)
    )
    threads: PlatformConfig = field(default_factory=lambda: _default("threads", access_ttl_s=HOUR))
    bluesky: PlatformConfig = field(
        default_factory=lambda: _default(
            "bluesky",
            user=TestUser(
                "did:plc:sandboxbrand0000000000",
                "Sandbox Brand",
                "sandboxbrand.bsky.social",
                "https://cdn.bsky.invalid/a.jpg",
            ),
            refresh_ttl_s=90 * DAY,
        )
    )
    # Mastodon client credentials come from POST /api/v1/apps, so client_id/secret here are unused.
    mastodon: PlatformConfig = field(default_factory=lambda: _default("mastodon", access_ttl_s=None))

    def platform(self, name: str) -> PlatformConfig:
        value = getattr(self, name, None)
        if not isinstance(value, PlatformConfig):
            raise KeyError(name)
        return value
