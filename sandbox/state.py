"""In-memory sandbox state: authorization codes, tokens (grouped in families), Mastodon apps, the request log and
the fault queue. Every mutation happens under one asyncio lock so a check-then-update (e.g. single-use refresh
tokens) cannot interleave with a concurrent request for the same token."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.faults import Fault, FaultSpec

TokenKind = Literal["access", "refresh"]


@dataclass
class AuthCode:
    code: str
    platform: str
    client_id: str
    redirect_uri: str
    scope: str
    user_id: str
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False


@dataclass
class Token:
    value: str
    platform: str
    kind: TokenKind
    family: str
    client_id: str
    user_id: str
    scope: str
    issued_at: float
    expires_at: float | None
    revoked: bool = False
    used: bool = False  # refresh tokens that rotate are single-use
    extra: dict[str, Any] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass
class MastodonApp:
    id: str
    name: str
    website: str | None
    redirect_uris: list[str]
    scopes: list[str]
    client_id: str
    client_secret: str


@dataclass
class SandboxPost:
    """One post as the platform holds it. `key` is the client-chosen idempotency value when the platform has one
    (Bluesky rkey, Mastodon Idempotency-Key); `peer_host` is the socket peer of the creating request."""

    platform: str
    id: str
    user_id: str
    text: str
    created_at: float
    media_ids: list[str] = field(default_factory=list)
    url: str | None = None
    key: str | None = None
    peer_host: str | None = None
    deleted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SandboxMedia:
    """An uploaded (or URL-pulled) media item; `status` moves from "processing" to "succeeded" after
    `ready_at` so clients must poll the way the real APIs require."""

    platform: str
    id: str
    user_id: str
    content_type: str
    size: int
    created_at: float
    ready_at: float
    source_url: str | None = None
    failed: bool = False

    def status(self, now: float) -> str:
        if self.failed:
            return "failed"
        return "succeeded" if now >= self.ready_at else "processing"


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str
    platform: str | None
    endpoint: str | None
    peer_host: str | None
    peer_port: int | None
    forwarded_for: str | None  # recorded, never trusted: the peer is the socket's
    status: int | None
    timestamp: float


def new_secret(prefix: str, nbytes: int = 24) -> str:
    return f"{prefix}{secrets.token_urlsafe(nbytes)}"


class SandboxState:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = asyncio.Lock()
        self.codes: dict[str, AuthCode] = {}
        self.tokens: dict[str, Token] = {}
        self.revoked_families: set[str] = set()
        self.mastodon_apps: dict[str, MastodonApp] = {}
        self.requests: list[RequestRecord] = []
        self.faults: list[Fault] = []
        self._fault_ids = itertools.count(1)
        # Publishing side: every published post and uploaded media item, across platforms (see sandbox/posts.py).
        self.posts: list[SandboxPost] = []
        self.media: dict[str, SandboxMedia] = {}
        # Extension point for platform-specific publishing objects (containers, publish ids...), cleared by reset().
        self.extra: dict[str, Any] = {}

    def now(self) -> float:
        return self.clock()

    async def reset(self) -> None:
        async with self.lock:
            self.codes.clear()
            self.tokens.clear()
            self.revoked_families.clear()
            self.mastodon_apps.clear()
            self.requests.clear()
            self.faults.clear()
            self.posts.clear()
            self.media.clear()
            self.extra.clear()

    # --- codes -------------------------------------------------------------------------------------------------

    async def put_code(self, code: AuthCode) -> None:
        async with self.lock:
            self.codes[code.code] = code

    async def take_code(self, value: str) -> tuple[AuthCode | None, str | None]:
        """Mark a code used and return it, or (None, reason). A reused code also revokes the tokens it produced,
        as RFC 6749 §4.1.2 recommends."""
        async with self.lock:
            code = self.codes.get(value)
            if code is None:
                return None, "unknown authorization code"
            if code.used:
                self._revoke_family_locked(f"code:{value}")
                return None, "authorization code already used"
            code.used = True
            if self.now() >= code.expires_at:
                return None, "authorization code expired"
            return code, None

    # --- tokens ------------------------------------------------------------------------------------------------

    async def add_token(self, token: Token) -> None:
        async with self.lock:
            self.tokens[token.value] = token

    def get_token(self, value: str) -> Token | None:
        return self.tokens.get(value)

    def token_state(self, token: Token) -> Literal["ok", "expired", "revoked"]:
        if token.revoked or token.family in self.revoked_families:
            return "revoked"
        if token.expired(self.now()):
            return "expired"
        return "ok"

    async def use_refresh(self, value: str, *, rotate: bool, reuse_revokes_family: bool) -> tuple[Token | None, str]:
        """Consume a refresh token. Returns (token, "ok") or (None, reason) with reason in
        unknown | revoked | expired | reused."""
        async with self.lock:
            token = self.tokens.get(value)
            if token is None or token.kind != "refresh":
                return None, "unknown"
            if token.used:
                if reuse_revokes_family:
                    self._revoke_family_locked(token.family)
                return None, "reused"
            state = self.token_state(token)
            if state != "ok":
                return None, state
            if rotate:
                token.used = True
            return token, "ok"

    async def revoke_token(self, value: str, *, family: bool = False) -> bool:
        async with self.lock:
            token = self.tokens.get(value)
            if token is None:
                return False
            token.revoked = True
            if family:
                self._revoke_family_locked(token.family)
            return True

    async def expire_token(self, value: str) -> None:
        async with self.lock:
            token = self.tokens.get(value)
            if token is not None:
                token.expires_at = self.now()

    def _revoke_family_locked(self, family: str) -> None:
        self.revoked_families.add(family)
        for token in self.tokens.values():
            if token.family == family:
                token.revoked = True

    # --- mastodon apps -----------------------------------------------------------------------------------------

    async def add_mastodon_app(self, app: MastodonApp) -> None:
        async with self.lock:
            self.mastodon_apps[app.client_id] = app

    # --- faults ------------------------------------------------------------------------------------------------

    async def add_fault(self, spec: FaultSpec) -> Fault:
        async with self.lock:
            fault = Fault(id=next(self._fault_ids), spec=spec, remaining=spec.count)
            self.faults.append(fault)
            return fault

    # --- request log -------------------------------------------------------------------------------------------

    def log_request(self, record: RequestRecord) -> None:
        # Appending to a list never awaits, so it is atomic under asyncio without the lock.
        self.requests.append(record)
