"""Shared HTTP plumbing of the platform connectors: one request through the account's proxy, and the mapping of
platform answers onto the error classes of domain/channels/connectors.py.

Every platform call goes through `send`, which builds its client with adapters.proxy.transport.build_client, so no
call can bypass the account's proxy. Error messages name the platform, method, host+path and the platform's error
code, never a query string, token or secret."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal, cast

import httpx

from adapters.proxy.transport import ProxyEndpoint, ProxyProtocol, build_client
from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    ConnectorError,
    InvalidRequest,
    ProxySpec,
    RateLimited,
    TokenSet,
    Transient,
    Unconfirmed,
)
from domain.identity.platforms import Platform

try:  # httpcore lets a garbled SOCKS5 handshake through as socksio.ProtocolError (see build_client)
    from socksio import ProtocolError as _SocksError
except ImportError:  # pragma: no cover - socksio ships with httpx[socks]
    _SocksError = None  # type: ignore[assignment,misc]

DEFAULT_TIMEOUT_S = 15.0
# Which kind of call failed decides what a 400/401 means: a refused refresh token is a dead grant, a refused code is
# a bad request, a refused bearer token is (usually) an expired one.
CallKind = Literal["api", "token", "refresh"]
_META = frozenset({Platform.FACEBOOK, Platform.INSTAGRAM, Platform.THREADS})
# Meta error codes (PLATFORMS.md): throttling and transient families.
_META_THROTTLED = frozenset({4, 17, 32, 613, 80001})
_META_TRANSIENT = frozenset({1, 2})
# Meta 190 subcodes: 463 = session expired; 458/459/460/464 = app removed, checkpoint, password changed, unconfirmed.
_META_EXPIRED_SUBCODES = frozenset({463})
_META_REVOKED_SUBCODES = frozenset({458, 459, 460, 464})


def proxy_endpoint(proxy: ProxySpec | None) -> ProxyEndpoint | None:
    if proxy is None:
        return None
    if proxy.protocol not in ("http", "https", "socks5"):
        raise InvalidRequest(f"unsupported proxy protocol {proxy.protocol!r}")
    try:
        return ProxyEndpoint(
            protocol=cast(ProxyProtocol, proxy.protocol),
            host=proxy.host,
            port=proxy.port,
            username=proxy.username,
            password=proxy.password,
        )
    except ValueError as exc:  # the message names host/port only, never the password
        raise InvalidRequest(f"invalid proxy: {exc}") from None


Classifier = Callable[[httpx.Response, dict[str, Any], str], ConnectorError | None]


async def send(
    platform: Platform,
    method: str,
    url: str,
    *,
    proxy: ProxySpec | None,
    kind: CallKind = "api",
    timeout: float = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109 - handed to build_client, which bounds every socket step
    unsafe: bool = False,
    classify: Classifier | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request through a client built for `proxy`; returns a 2xx response or raises a ConnectorError.

    `unsafe` marks a call that creates something (a publish) or spends something (a refresh, always unsafe): once the
    request may have been sent, a timeout or a dropped connection is Unconfirmed rather than Transient, because
    retrying it blindly could post twice or present a spent refresh token.
    `classify(response, body, message)` lets a publishing adapter name its platform's content errors (duplicate,
    spam, ...) before the shared mapping runs; returning None falls through to it."""
    where = _where(method, url)
    # A refresh spends the refresh token where it rotates: once sent, its outcome matters as a publish's does.
    unsafe = unsafe or kind == "refresh"
    endpoint = proxy_endpoint(proxy)
    try:
        async with build_client(endpoint, timeout=timeout) as client:
            response = await client.request(method, url, **kwargs)
    except (httpx.ConnectTimeout, httpx.PoolTimeout):
        raise Transient(f"{platform.value}: {where} timed out connecting") from None
    except httpx.TimeoutException:
        if unsafe:
            raise Unconfirmed(f"{platform.value}: {where} timed out after sending; outcome unknown") from None
        raise Transient(f"{platform.value}: {where} timed out") from None
    except httpx.ProxyError:
        raise Transient(f"{platform.value}: {where}: proxy failed") from None
    except (httpx.ConnectError, httpx.UnsupportedProtocol):
        raise Transient(f"{platform.value}: {where}: could not connect") from None
    except httpx.TransportError as exc:
        if unsafe:
            raise Unconfirmed(
                f"{platform.value}: {where}: connection lost after sending ({type(exc).__name__}); outcome unknown"
            ) from None
        raise Transient(f"{platform.value}: {where}: network error ({type(exc).__name__})") from None
    except Exception as exc:
        if _SocksError is not None and isinstance(exc, _SocksError):
            raise Transient(f"{platform.value}: {where}: SOCKS5 proxy failed") from None
        raise
    if response.is_success:
        return response
    if classify is not None:
        body = _body(response)
        code, detail = _error_code(platform, body)
        message = _scrub(
            f"{platform.value}: {where} -> {response.status_code} {code or ''} {detail}".strip(), _secret_values(kwargs)
        )
        specific = classify(response, body, message)
        if specific is not None:
            raise specific
    raise error_for(platform, response, kind, secrets=_secret_values(kwargs))


def json_body(platform: Platform, response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object; anything else from a 2xx is a platform hiccup worth retrying."""
    try:
        data = response.json()
    except ValueError:
        raise Transient(
            f"{platform.value}: {_where(response.request.method, str(response.request.url))}: answer is not JSON"
        ) from None
    if not isinstance(data, dict):
        raise Transient(f"{platform.value}: answer is not a JSON object")
    return data


def error_for(
    platform: Platform, response: httpx.Response, kind: CallKind, *, secrets: Iterable[str] = ()
) -> ConnectorError:
    body = _body(response)
    code, detail = _error_code(platform, body)
    where = _where(response.request.method, str(response.request.url))
    message = _scrub(f"{platform.value}: {where} -> {response.status_code} {code or ''} {detail}".strip(), secrets)
    status = response.status_code

    if status == 429 or _throttled(platform, body, code):
        return RateLimited(message, retry_after(platform, response))
    if status == 407:
        return Transient(f"{platform.value}: {where}: proxy authentication failed")
    if status >= 500 or (platform in _META and _meta_code(body) in _META_TRANSIENT):
        return Transient(message)
    auth = _auth_error(platform, status, body, code, kind, message)
    if auth is not None:
        return auth
    return InvalidRequest(message)


def _auth_error(
    platform: Platform, status: int, body: dict[str, Any], code: str | None, kind: CallKind, message: str
) -> ConnectorError | None:
    if kind == "token":
        return None  # a refused code/verifier/redirect is a bad request: the user simply starts over
    if kind == "refresh":
        # invalid_grant (RFC 6749), X's invalid_request, Bluesky's Expired/InvalidToken, Meta's 190: the grant is gone.
        if status == 401 and code in ("invalid_client", "unauthorized_client"):
            return None  # our client credentials are wrong: a configuration error, not a dead grant
        if status in (400, 401) and (
            code in ("invalid_grant", "invalid_request", "ExpiredToken", "InvalidToken", "AuthMissing")
            or _meta_code(body) == 190
        ):
            return AuthRevoked(message)
        return None
    if platform in _META and _meta_code(body) == 190:
        subcode = _int(_error_obj(body).get("error_subcode"))
        return AuthRevoked(message) if subcode in _META_REVOKED_SUBCODES else AuthExpired(message)
    if platform == Platform.LINKEDIN and status == 401:
        return AuthRevoked(message) if body.get("serviceErrorCode") == 65601 else AuthExpired(message)
    if platform == Platform.BLUESKY:
        if code == "ExpiredToken":
            return AuthExpired(message)
        if status == 401:  # InvalidToken: the session is gone, log in again
            return AuthRevoked(message)
    if platform == Platform.TIKTOK and code == "scope_not_authorized":
        return AuthRevoked(message)
    if platform == Platform.MASTODON and status == 401:
        return AuthRevoked(message)  # Mastodon tokens never expire: a refused one was revoked
    if status == 401:
        return AuthExpired(message)  # X answers a bare 401 either way: refresh once and see
    return None


# --- rate-limit hints -------------------------------------------------------------------------------------------


def retry_after(platform: Platform, response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds to wait, from the headers this platform sends; None when it gives no hint."""
    now = time.time() if now is None else now
    headers = response.headers
    hint = _retry_after_header(headers.get("retry-after"), now)
    if hint is not None:
        return hint
    if platform == Platform.X:
        return _epoch_delta(headers.get("x-rate-limit-reset"), now)
    if platform == Platform.BLUESKY:
        return _epoch_delta(headers.get("ratelimit-reset"), now)
    if platform == Platform.MASTODON:
        return _iso_delta(headers.get("x-ratelimit-reset"), now)
    if platform in _META:
        return _meta_regain(headers.get("x-business-use-case-usage"))
    if platform == Platform.LINKEDIN:
        # LinkedIn's daily quotas reset at midnight UTC and it sends no header.
        current = datetime.fromtimestamp(now, UTC)
        midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1.0, (midnight - current).total_seconds())
    return None


def _positive(seconds: float) -> float:
    # A reset already in the past still means "not yet": wait a moment rather than hammering.
    return max(1.0, math.ceil(seconds))


def _retry_after_header(value: str | None, now: float) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return _positive(float(value.strip()))
    try:
        return _positive(parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _epoch_delta(value: str | None, now: float) -> float | None:
    try:
        return None if value is None else _positive(float(value) - now)
    except ValueError:
        return None


def _iso_delta(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _positive(moment.timestamp() - now)


def _meta_regain(value: str | None) -> float | None:
    """X-Business-Use-Case-Usage: {business-id: [{type, call_count, ..., estimated_time_to_regain_access (min)}]}."""
    if not value:
        return None
    try:
        usage = json.loads(value)
    except ValueError:
        return None
    minutes = [
        _int(entry.get("estimated_time_to_regain_access")) or 0
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    longest = max(minutes, default=0)
    return float(longest * 60) if longest > 0 else None


# --- body reading -----------------------------------------------------------------------------------------------


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error_obj(body: dict[str, Any]) -> dict[str, Any]:
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _meta_code(body: dict[str, Any]) -> int | None:
    return _int(_error_obj(body).get("code"))


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _error_code(platform: Platform, body: dict[str, Any]) -> tuple[str | None, str]:
    """(machine code, short human detail) in each platform's dialect."""
    error = body.get("error")
    if isinstance(error, dict):  # Meta Graph, TikTok
        code = error.get("code")
        detail = error.get("message") or ""
        return (None if code is None else str(code)), str(detail)
    if isinstance(error, str):  # RFC 6749, Bluesky XRPC, Mastodon
        detail = body.get("error_description") or body.get("message") or ""
        return error, str(detail)
    if "serviceErrorCode" in body:  # LinkedIn
        return str(body.get("code") or body["serviceErrorCode"]), str(body.get("message") or "")
    if "error_type" in body:  # Instagram's legacy code-exchange shape
        return str(body["error_type"]), str(body.get("error_message") or "")
    if "title" in body:  # X problem details
        return str(body["title"]), str(body.get("detail") or "")
    return None, str(body.get("message") or "")


def _throttled(platform: Platform, body: dict[str, Any], code: str | None) -> bool:
    if platform in _META:
        return _meta_code(body) in _META_THROTTLED
    return platform == Platform.TIKTOK and code == "rate_limit_exceeded"


def _where(method: str, url: str) -> str:
    parsed = httpx.URL(url)
    return f"{method} {parsed.host}{parsed.path}"  # never the query: Meta puts tokens there


def _secret_values(kwargs: Mapping[str, Any]) -> list[str]:
    """Every value we sent (form, query, JSON, headers): any of them may be a token or secret to keep out of errors."""
    found: list[str] = []
    for key in ("data", "params", "json", "headers"):
        value = kwargs.get(key)
        if isinstance(value, Mapping):
            found.extend(str(v) for v in value.values() if v is not None)
    auth = kwargs.get("auth")
    if isinstance(auth, tuple):
        found.extend(str(v) for v in auth)
    return found


def _scrub(text: str, values: Iterable[str]) -> str:
    for value in values:
        for piece in (value, value.removeprefix("Bearer ")):
            if len(piece) >= 6:
                text = text.replace(piece, "***")
    return text[:300]


# --- OAuth helpers ----------------------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636: 64 URL-safe characters of secrets-grade randomness."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def expires_at(expires_in: object, now: datetime | None = None) -> datetime | None:
    """Absolute expiry from the response's expires_in (PLATFORMS.md: trust the answer, not the docs)."""
    seconds = _int(expires_in) if not isinstance(expires_in, float) else int(expires_in)
    if seconds is None:
        return None
    return (now or datetime.now(UTC)) + timedelta(seconds=seconds)


def require_str(platform: Platform, data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise Transient(f"{platform.value}: answer lacks {key}")
    return value


def opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def token_set(platform: Platform, data: Mapping[str, Any], *, refresh_token: str | None = None) -> TokenSet:
    """The usual OAuth token answer; `refresh_token` overrides what the answer carries (Meta long-lived tokens)."""
    scope = data.get("scope")
    return TokenSet(
        access_token=require_str(platform, data, "access_token"),
        refresh_token=refresh_token if refresh_token is not None else opt_str(data.get("refresh_token")),
        expires_at=expires_at(data.get("expires_in")),
        scope=scope if isinstance(scope, str) and scope else None,
    )


def need(platform: Platform, url: str | None, what: str) -> str:
    if not url:
        raise ValueError(f"{platform.value} endpoints lack a {what} URL")
    return url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
