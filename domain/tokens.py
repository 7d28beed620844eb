"""Opaque tokens (refresh tokens, API keys, invitations) and the port that signs access tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Protocol

from domain.auth import AccessClaims


class TokenIssuer(Protocol):
    ttl_s: int

    def issue_access(self, claims: AccessClaims, now: datetime) -> str: ...
    def verify_access(self, token: str) -> AccessClaims: ...


def new_opaque_token(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def digest(token: str) -> str:
    """SHA-256 of a high-entropy random token: enough to store it without keeping it (passwords use argon2)."""
    return hashlib.sha256(token.encode()).hexdigest()
