"""Sign-in, profile, refresh and revoke of all eight connectors against the real sandbox server."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.platforms.bluesky import BlueskyConnector
from adapters.platforms.registry import connectors
from domain.channels.connectors import AuthExpired, AuthRevoked, InvalidRequest
from domain.identity.platforms import Platform
from tests.platforms.conftest import REDIRECT, Sandbox, browser_step, connect

# What the sandbox's test user (sandbox/config.py) looks like through each connector.
EXPECTED_ID = {
    Platform.X: "1460000000000000001",
    Platform.LINKEDIN: "linkedin-user-1",
    Platform.FACEBOOK: "100000000000001",  # the page, not the person
    Platform.INSTAGRAM: "instagram-user-1",
    Platform.THREADS: "threads-user-1",
    Platform.TIKTOK: "tiktok-user-1",
    Platform.BLUESKY: "did:plc:sandboxbrand0000000000",
    Platform.MASTODON: "mastodon-user-1",
}


@pytest.mark.parametrize("platform", list(Platform))
async def test_connect_then_profile(sandbox: Sandbox, platform: Platform) -> None:
    connected = await connect(sandbox, platform)
    profile = await connected.connector.profile(access_token=connected.tokens.access_token, proxy=None)
    assert profile.internal_id == EXPECTED_ID[platform]
    assert profile.name in ("Sandbox Brand", "Sandbox Page")
    if platform not in (Platform.LINKEDIN, Platform.FACEBOOK):
        assert profile.handle
        assert profile.handle.startswith("sandboxbrand")
    assert profile.picture
    assert profile.picture.startswith("https://")
    # Every call went straight to the sandbox (no proxy given) and secrets stayed out of the repr.
    assert connected.tokens.access_token not in repr(connected.tokens)


@pytest.mark.parametrize(
    ("platform", "expires", "has_refresh"),
    [
        (Platform.X, True, True),
        (Platform.LINKEDIN, True, True),
        (Platform.FACEBOOK, False, False),  # page token: no expiry, no refresh
        (Platform.INSTAGRAM, True, True),  # long-lived token refreshes itself
        (Platform.THREADS, True, True),
        (Platform.TIKTOK, True, True),
        (Platform.BLUESKY, True, True),
        (Platform.MASTODON, False, False),
    ],
)
async def test_token_shapes(sandbox: Sandbox, platform: Platform, expires: bool, has_refresh: bool) -> None:
    tokens = (await connect(sandbox, platform)).tokens
    assert (tokens.expires_at is not None) is expires
    assert (tokens.refresh_token is not None) is has_refresh
    if platform in (Platform.INSTAGRAM, Platform.THREADS):
        # The 1 h token was exchanged for the ~60-day one.
        assert tokens.expires_at is not None
        assert (tokens.expires_at - datetime.now(UTC)).days >= 59


def test_authorize_urls_bind_state_and_pkce(sandbox: Sandbox) -> None:
    for platform, connector in connectors(sandbox.endpoints()).items():
        if platform == Platform.BLUESKY:
            with pytest.raises(NotImplementedError, match="app password"):
                connector.start_authorization(state="s", redirect_uri=REDIRECT)
            continue
        start = connector.start_authorization(state="state-123", redirect_uri=REDIRECT)
        query = parse_qs(urlsplit(start.url).query)
        assert query["state"] == ["state-123"]
        assert start.state == "state-123"
        if connector.uses_pkce:
            assert query["code_challenge_method"] == ["S256"]
            assert start.code_verifier
            assert len(start.code_verifier) >= 43
        else:
            assert start.code_verifier is None
            assert "code_challenge" not in query
    assert connectors(sandbox.endpoints())[Platform.X].uses_pkce
    a = connectors(sandbox.endpoints())[Platform.X].start_authorization(state="s", redirect_uri=REDIRECT)
    b = connectors(sandbox.endpoints())[Platform.X].start_authorization(state="s", redirect_uri=REDIRECT)
    assert a.code_verifier != b.code_verifier


async def test_x_wrong_pkce_verifier_is_invalid_request(sandbox: Sandbox) -> None:
    connector = connectors(sandbox.endpoints())[Platform.X]
    start = connector.start_authorization(state="s", redirect_uri=REDIRECT)
    code = browser_step(start.url)["code"]
    with pytest.raises(InvalidRequest) as caught:
        await connector.exchange_code(code=code, redirect_uri=REDIRECT, code_verifier="x" * 50, proxy=None)
    assert code not in str(caught.value)
    assert "x" * 50 not in str(caught.value)


async def test_x_refresh_rotates_and_reuse_kills_the_grant(sandbox: Sandbox) -> None:
    connected = await connect(sandbox, Platform.X)
    old = connected.tokens.refresh_token
    assert old is not None
    fresh = await connected.connector.refresh(refresh_token=old, proxy=None)
    assert fresh.refresh_token not in (None, old)
    assert fresh.access_token != connected.tokens.access_token
    await connected.connector.profile(access_token=fresh.access_token, proxy=None)
    with pytest.raises(AuthRevoked) as caught:
        await connected.connector.refresh(refresh_token=old, proxy=None)
    assert old not in str(caught.value)
    # Reuse invalidated the whole family, the new refresh token included.
    assert fresh.refresh_token is not None
    with pytest.raises(AuthRevoked):
        await connected.connector.refresh(refresh_token=fresh.refresh_token, proxy=None)


async def test_linkedin_refresh_does_not_rotate(sandbox: Sandbox) -> None:
    connected = await connect(sandbox, Platform.LINKEDIN)
    old = connected.tokens.refresh_token
    assert old is not None
    first = await connected.connector.refresh(refresh_token=old, proxy=None)
    second = await connected.connector.refresh(refresh_token=old, proxy=None)
    assert first.refresh_token == second.refresh_token == old
    assert first.access_token != second.access_token
    await connected.connector.profile(access_token=second.access_token, proxy=None)


@pytest.mark.parametrize("platform", [Platform.TIKTOK, Platform.BLUESKY])
async def test_rotating_refresh(sandbox: Sandbox, platform: Platform) -> None:
    connected = await connect(sandbox, platform)
    old = connected.tokens.refresh_token
    assert old is not None
    fresh = await connected.connector.refresh(refresh_token=old, proxy=None)
    assert fresh.refresh_token not in (None, old)
    profile = await connected.connector.profile(access_token=fresh.access_token, proxy=None)
    assert profile.internal_id == EXPECTED_ID[platform]
    with pytest.raises(AuthRevoked):
        await connected.connector.refresh(refresh_token=old, proxy=None)


@pytest.mark.parametrize("platform", [Platform.INSTAGRAM, Platform.THREADS])
async def test_meta_long_lived_token_refuses_refresh_while_young(sandbox: Sandbox, platform: Platform) -> None:
    # The platforms (and the sandbox) refresh a long-lived token only once it is 24 h old.
    connected = await connect(sandbox, platform)
    assert connected.tokens.refresh_token == connected.tokens.access_token
    with pytest.raises(InvalidRequest, match="24 hours"):
        await connected.connector.refresh(refresh_token=connected.tokens.access_token, proxy=None)


@pytest.mark.parametrize("platform", [Platform.FACEBOOK, Platform.MASTODON])
async def test_platforms_without_refresh_say_reconnect(sandbox: Sandbox, platform: Platform) -> None:
    connected = await connect(sandbox, platform)
    with pytest.raises(AuthRevoked):
        await connected.connector.refresh(refresh_token="anything", proxy=None)
    assert sandbox.requests(platform)[-1]["endpoint"] != "refresh"


@pytest.mark.parametrize(
    "platform", [Platform.X, Platform.LINKEDIN, Platform.FACEBOOK, Platform.TIKTOK, Platform.BLUESKY, Platform.MASTODON]
)
async def test_revoke_then_profile_is_refused(sandbox: Sandbox, platform: Platform) -> None:
    connected = await connect(sandbox, platform)
    tokens = connected.tokens
    # Bluesky ends a session with its refresh JWT; the others revoke the access token.
    token = tokens.refresh_token if isinstance(connected.connector, BlueskyConnector) else tokens.access_token
    assert token is not None
    await connected.connector.revoke(token=token, proxy=None)
    with pytest.raises((AuthRevoked, AuthExpired)) as caught:
        await connected.connector.profile(access_token=tokens.access_token, proxy=None)
    assert tokens.access_token not in str(caught.value)
    if platform in (Platform.LINKEDIN, Platform.FACEBOOK, Platform.MASTODON, Platform.BLUESKY):
        assert isinstance(caught.value, AuthRevoked)  # these platforms say "revoked" explicitly
    if platform == Platform.X:
        # X answers a bare 401; the refresh the workflow then tries shows the grant is gone.
        assert tokens.refresh_token is not None
        with pytest.raises(AuthRevoked):
            await connected.connector.refresh(refresh_token=tokens.refresh_token, proxy=None)


@pytest.mark.parametrize("platform", [Platform.INSTAGRAM, Platform.THREADS])
async def test_meta_login_revoke_is_local_and_a_revoked_grant_is_auth_revoked(
    sandbox: Sandbox, platform: Platform
) -> None:
    connected = await connect(sandbox, platform)
    before = len(sandbox.requests(platform))
    await connected.connector.revoke(token=connected.tokens.access_token, proxy=None)
    assert len(sandbox.requests(platform)) == before  # no revocation endpoint exists
    # The user removing the app in their settings: the platform then answers 190/458.
    sandbox.fault(platform, "revoke_token")
    with pytest.raises(AuthRevoked):
        await connected.connector.profile(access_token=connected.tokens.access_token, proxy=None)


async def test_bluesky_wrong_app_password_is_invalid_request(sandbox: Sandbox) -> None:
    connector = connectors(sandbox.endpoints())[Platform.BLUESKY]
    assert isinstance(connector, BlueskyConnector)
    with pytest.raises(InvalidRequest) as caught:
        await connector.create_session("sandboxbrand.bsky.social", "wrong-pass-word-here", None)
    assert "wrong-pass-word-here" not in str(caught.value)
