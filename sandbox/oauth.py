"""Shared OAuth 2.0 machinery: authorize (auto-approving the test user), code redemption with PKCE, token issue,
refresh with per-platform rotation rules, and bearer authentication honouring expire/revoke faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal
from urllib.parse import urlencode, urlsplit

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from sandbox.context import context
from sandbox.faults import TOKEN_KINDS, take_fault
from sandbox.platforms.base import Platform, PlatformError
from sandbox.state import AuthCode, Token, new_secret

PkceRule = Literal["required", "optional", "none"]


class OAuthFailure(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str | None
    redirect_uri: str | None
    response_type: str | None
    scope: str | None
    state: str | None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


@dataclass(frozen=True)
class AuthorizePolicy:
    allowed_scopes: frozenset[str]
    scope_sep: str = " "
    pkce: PkceRule = "none"
    pkce_methods: frozenset[str] = frozenset({"S256"})
    state_required: bool = False
    fragment: str = ""  # Instagram appends "#_" to the redirect


def redirect_glob_match(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda uri: any(fnmatchcase(uri, p) for p in patterns)


def split_scopes(scope: str | None, sep: str) -> list[str]:
    if not scope:
        return []
    return [s.strip() for s in scope.replace("+", " ").split(sep) if s.strip()]


def _redirect(uri: str, params: dict[str, str], fragment: str = "") -> RedirectResponse:
    joiner = "&" if urlsplit(uri).query else "?"
    return RedirectResponse(f"{uri}{joiner}{urlencode(params)}{fragment}", status_code=302)


async def authorize(
    request: Request,
    platform: Platform,
    req: AuthorizeRequest,
    policy: AuthorizePolicy,
    *,
    redirect_ok: Callable[[str], bool] | None,
    scope_ok: Callable[[list[str]], bool] | None = None,
) -> Response:
    """`redirect_ok` is None when the client is unknown. Errors about the client or the redirect URI are shown to
    the user (never redirected, so an attacker cannot bounce them); every other error goes back to the client."""
    if not req.client_id or redirect_ok is None:
        return platform.authorize_page_error("invalid_client", "unknown client_id")
    if not req.redirect_uri or not redirect_ok(req.redirect_uri):
        return platform.authorize_page_error("invalid_request", "redirect_uri does not match a registered URI")

    def back(error: str, description: str) -> Response:
        params = {"error": error, "error_description": description}
        if req.state is not None:
            params["state"] = req.state
        return _redirect(req.redirect_uri or "", params)

    if req.response_type != "code":
        return back("unsupported_response_type", "response_type must be code")
    scopes = split_scopes(req.scope, policy.scope_sep)
    check = scope_ok or (lambda requested: set(requested) <= policy.allowed_scopes)
    if not scopes or not check(scopes):
        return back("invalid_scope", f"unsupported scope: {req.scope!r}")
    if policy.state_required and not req.state:
        return back("invalid_request", "state is required")
    challenge = req.code_challenge if policy.pkce != "none" else None
    method = (req.code_challenge_method or "plain") if challenge else None
    if policy.pkce == "required" and not challenge:
        return back("invalid_request", "code_challenge is required")
    if challenge and method not in policy.pkce_methods:
        return back("invalid_request", f"unsupported code_challenge_method {method!r}")

    ctx = context(request)
    cfg = ctx.config.platform(platform.name)
    code = AuthCode(
        code=new_secret("", 32),
        platform=platform.name,
        client_id=req.client_id,
        redirect_uri=req.redirect_uri,
        scope=" ".join(scopes),
        user_id=cfg.user.id,
        expires_at=ctx.state.now() + cfg.code_ttl_s,
        code_challenge=challenge,
        code_challenge_method=method,
    )
    await ctx.state.put_code(code)
    params = {"code": code.code}
    if req.state is not None:
        params["state"] = req.state
    return _redirect(req.redirect_uri, params, policy.fragment)


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    return hmac.compare_digest(computed, challenge)


async def redeem_code(
    request: Request,
    platform: Platform,
    *,
    code: str | None,
    client_id: str,
    redirect_uri: str | None,
    verifier: str | None,
) -> AuthCode:
    if not code:
        raise OAuthFailure("invalid_request", "code is required")
    found, reason = await context(request).state.take_code(code)
    if found is None:
        raise OAuthFailure("invalid_grant", reason or "invalid code")
    if found.platform != platform.name or found.client_id != client_id:
        raise OAuthFailure("invalid_grant", "code was issued to another client")
    if redirect_uri != found.redirect_uri:
        raise OAuthFailure("invalid_grant", "redirect_uri does not match the authorization request")
    if found.code_challenge is not None:
        if not verifier:
            raise OAuthFailure("invalid_request", "code_verifier is required")
        if not pkce_matches(verifier, found.code_challenge, found.code_challenge_method or "plain"):
            raise OAuthFailure("invalid_grant", "code_verifier does not match the code_challenge")
    return found


async def issue(
    request: Request,
    platform: Platform,
    *,
    client_id: str,
    user_id: str,
    scope: str,
    family: str,
    access_ttl_s: int | None,
    refresh: bool,
    refresh_ttl_s: int | None = None,
    refresh_expires_at: float | None = None,
    prefix: str = "",
) -> tuple[Token, Token | None]:
    """Mint an access token (and a refresh token). `refresh_expires_at` pins a non-sliding expiry (LinkedIn)."""
    state = context(request).state
    now = state.now()
    access = Token(
        value=new_secret(prefix + "at_"),
        platform=platform.name,
        kind="access",
        family=family,
        client_id=client_id,
        user_id=user_id,
        scope=scope,
        issued_at=now,
        expires_at=None if access_ttl_s is None else now + access_ttl_s,
    )
    await state.add_token(access)
    refresh_token: Token | None = None
    if refresh:
        expires = (
            refresh_expires_at
            if refresh_expires_at is not None
            else (None if refresh_ttl_s is None else now + refresh_ttl_s)
        )
        refresh_token = Token(
            value=new_secret(prefix + "rt_"),
            platform=platform.name,
            kind="refresh",
            family=family,
            client_id=client_id,
            user_id=user_id,
            scope=scope,
            issued_at=now,
            expires_at=expires,
        )
        await state.add_token(refresh_token)
    return access, refresh_token


def seconds_left(token: Token, now: float) -> int | None:
    return None if token.expires_at is None else max(0, round(token.expires_at - now))


async def authenticate(request: Request, platform: Platform, value: str | None) -> Token:
    """Resolve an access token or raise the platform's auth error. An expire_token/revoke_token fault matching this
    request really expires/revokes the token, so the client sees what it would after a real expiry."""
    if not value:
        raise PlatformError(platform.auth_error("missing"))
    ctx = context(request)
    state = ctx.state
    token = state.get_token(value)
    if token is None or token.kind != "access" or token.platform != platform.name:
        raise PlatformError(platform.auth_error("invalid"))
    route = request.scope.get("route")
    fault = take_fault(state.faults, platform.name, getattr(route, "name", None), request.url.path, TOKEN_KINDS)
    if fault is not None and fault.spec.kind == "expire_token":
        await state.expire_token(value)
    elif fault is not None:
        await state.revoke_token(value, family=True)
    status = state.token_state(token)
    if status != "ok":
        raise PlatformError(platform.auth_error(status))
    return token


def basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def check_client_secret(client_id: str | None, client_secret: str | None, expected: tuple[str, str]) -> str:
    """Client authentication with credentials in the form body (LinkedIn, Meta, TikTok)."""
    if client_id != expected[0] or not client_secret or not hmac.compare_digest(client_secret, expected[1]):
        raise OAuthFailure("invalid_client", "Client authentication failed", 401)
    return client_id


def jwt_key(secret: str) -> str:
    """HS256 key for sandbox-minted JWTs (LinkedIn id_token, Bluesky sessions): derived from the client secret so a
    short configured secret still gives a full-length key."""
    return hashlib.sha256(f"sandbox-jwt:{secret}".encode()).hexdigest()
