"""Where each platform lives and which app credentials we use there.

The sandbox and the real APIs differ only in these values, so switching is one setting: `endpoints(sandbox_url=...)`
with a URL talks to the local sandbox, with None to the real hosts of PLATFORMS.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.identity.platforms import Platform

# The Graph API version we were written against; Meta keeps old versions alive for ~2 years.
GRAPH_VERSION = "v21.0"
THREADS_VERSION = "v1.0"
DEFAULT_MASTODON_INSTANCE = "https://mastodon.social"

SCOPES: dict[Platform, tuple[str, ...]] = {
    Platform.X: ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write"),
    Platform.LINKEDIN: ("openid", "profile", "w_member_social"),
    Platform.FACEBOOK: ("pages_show_list", "pages_manage_posts", "pages_read_engagement"),
    Platform.INSTAGRAM: ("instagram_business_basic", "instagram_business_content_publish"),
    Platform.THREADS: ("threads_basic", "threads_content_publish"),
    Platform.TIKTOK: ("user.info.basic", "video.publish", "video.upload"),
    Platform.BLUESKY: (),
    # `profile` (Mastodon 4.3+) lets verify_credentials answer without the broad read:accounts.
    Platform.MASTODON: ("profile", "write:statuses", "write:media"),
}


@dataclass(frozen=True)
class PlatformEndpoints:
    """None where the platform has no such endpoint (Bluesky has no OAuth; Instagram/Threads no revoke)."""

    authorize_url: str | None
    token_url: str | None
    revoke_url: str | None
    api_base: str  # Graph host for Meta, the PDS for Bluesky, the default instance for Mastodon
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    graph_version: str | None = None  # Facebook, Instagram, Threads

    def __repr__(self) -> str:  # keep the client secret out of logs
        return f"PlatformEndpoints(api_base={self.api_base!r}, client_id={self.client_id!r})"


def sandbox_endpoints(sandbox_url: str) -> dict[Platform, PlatformEndpoints]:
    """The local sandbox (`python -m sandbox`) with the default credentials of sandbox/config.py."""
    s = sandbox_url.rstrip("/")

    def creds(p: Platform) -> tuple[str, str]:
        return f"{p.value}-client-id", f"{p.value}-client-secret"

    hosts = {p: f"{s}/{p.value}" for p in Platform}
    return _build(
        {p: creds(p) for p in Platform},
        x=(f"{hosts[Platform.X]}", f"{hosts[Platform.X]}"),
        linkedin=(hosts[Platform.LINKEDIN], hosts[Platform.LINKEDIN]),
        facebook=(hosts[Platform.FACEBOOK], hosts[Platform.FACEBOOK]),
        instagram=(hosts[Platform.INSTAGRAM], hosts[Platform.INSTAGRAM], hosts[Platform.INSTAGRAM]),
        threads=(hosts[Platform.THREADS], hosts[Platform.THREADS]),
        tiktok=(hosts[Platform.TIKTOK], hosts[Platform.TIKTOK]),
        bluesky=hosts[Platform.BLUESKY],
        mastodon=hosts[Platform.MASTODON],
    )


def real_endpoints(
    credentials: Mapping[Platform, tuple[str, str]],
    *,
    mastodon_instance: str = DEFAULT_MASTODON_INSTANCE,
    bluesky_pds: str = "https://bsky.social",
) -> dict[Platform, PlatformEndpoints]:
    """The production hosts of PLATFORMS.md. `credentials` maps platform → (client id, client secret); Mastodon and
    Bluesky need none (Mastodon apps are registered per instance at runtime, Bluesky uses app passwords)."""
    return _build(
        credentials,
        # X: the browser dialog is on x.com, the API (token, revoke, users/me) on api.x.com.
        x=("https://x.com", "https://api.x.com"),
        # LinkedIn: OAuth on www.linkedin.com, the REST/OpenID API on api.linkedin.com.
        linkedin=("https://www.linkedin.com", "https://api.linkedin.com"),
        facebook=("https://www.facebook.com", "https://graph.facebook.com"),
        # Instagram: dialog on www.instagram.com, code redemption on api.instagram.com, the rest on graph.
        instagram=("https://www.instagram.com", "https://api.instagram.com", "https://graph.instagram.com"),
        threads=("https://threads.net", "https://graph.threads.net"),
        tiktok=("https://www.tiktok.com", "https://open.tiktokapis.com"),
        bluesky=bluesky_pds.rstrip("/"),
        mastodon=mastodon_instance.rstrip("/"),
    )


def endpoints(
    *, sandbox_url: str | None, credentials: Mapping[Platform, tuple[str, str]] | None = None
) -> dict[Platform, PlatformEndpoints]:
    """The one switch: a sandbox URL selects the sandbox, None the real platforms."""
    if sandbox_url is not None:
        return sandbox_endpoints(sandbox_url)
    return real_endpoints(credentials or {})


def _build(
    credentials: Mapping[Platform, tuple[str, str]],
    *,
    x: tuple[str, str],
    linkedin: tuple[str, str],
    facebook: tuple[str, str],
    instagram: tuple[str, str, str],
    threads: tuple[str, str],
    tiktok: tuple[str, str],
    bluesky: str,
    mastodon: str,
) -> dict[Platform, PlatformEndpoints]:
    """Real paths below each (web, api) host pair; the sandbox serves the same paths under /{platform}."""

    def cred(p: Platform) -> tuple[str, str]:
        return credentials.get(p, ("", ""))

    v = GRAPH_VERSION
    ig_web, ig_api, ig_graph = instagram
    return {
        Platform.X: PlatformEndpoints(
            f"{x[0]}/i/oauth2/authorize",
            f"{x[1]}/2/oauth2/token",
            f"{x[1]}/2/oauth2/revoke",
            x[1],
            *cred(Platform.X),
            SCOPES[Platform.X],
        ),
        Platform.LINKEDIN: PlatformEndpoints(
            f"{linkedin[0]}/oauth/v2/authorization",
            f"{linkedin[0]}/oauth/v2/accessToken",
            f"{linkedin[0]}/oauth/v2/revoke",
            linkedin[1],
            *cred(Platform.LINKEDIN),
            SCOPES[Platform.LINKEDIN],
        ),
        Platform.FACEBOOK: PlatformEndpoints(
            f"{facebook[0]}/{v}/dialog/oauth",
            f"{facebook[1]}/{v}/oauth/access_token",
            f"{facebook[1]}/{v}/me/permissions",
            facebook[1],
            *cred(Platform.FACEBOOK),
            SCOPES[Platform.FACEBOOK],
            v,
        ),
        Platform.INSTAGRAM: PlatformEndpoints(
            f"{ig_web}/oauth/authorize",
            f"{ig_api}/oauth/access_token",
            None,
            ig_graph,
            *cred(Platform.INSTAGRAM),
            SCOPES[Platform.INSTAGRAM],
            v,
        ),
        Platform.THREADS: PlatformEndpoints(
            f"{threads[0]}/oauth/authorize",
            f"{threads[1]}/oauth/access_token",
            None,
            threads[1],
            *cred(Platform.THREADS),
            SCOPES[Platform.THREADS],
            THREADS_VERSION,
        ),
        Platform.TIKTOK: PlatformEndpoints(
            f"{tiktok[0]}/v2/auth/authorize/",
            f"{tiktok[1]}/v2/oauth/token/",
            f"{tiktok[1]}/v2/oauth/revoke/",
            tiktok[1],
            *cred(Platform.TIKTOK),
            SCOPES[Platform.TIKTOK],
        ),
        Platform.BLUESKY: PlatformEndpoints(None, None, None, bluesky, "", "", SCOPES[Platform.BLUESKY]),
        Platform.MASTODON: PlatformEndpoints(
            f"{mastodon}/oauth/authorize",
            f"{mastodon}/oauth/token",
            f"{mastodon}/oauth/revoke",
            mastodon,
            "",
            "",
            SCOPES[Platform.MASTODON],
        ),
    }
