"""Pending OAuth authorizations (the `state` round trip)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from domain.identity.platforms import Platform

STATE_TTL_S = 600


class OAuthState(BaseModel):
    state_digest: str
    organization_id: str
    actor_id: str
    platform: Platform
    redirect_uri: str
    code_verifier: dict[str, str] | None = None  # sealed
    # Per-instance platforms (Mastodon): the instance whose app the code is for.
    api_base: str | None = None
    # Whose proxy the code exchange and profile calls go through: the account's (else its soul's), or the soul's.
    account_id: str | None = None
    soul_id: str | None = None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


def state_record(state_digest: str) -> str:
    return f"oauth_states/{state_digest}"


class OAuthStateRepository(Protocol):
    async def add(self, state: OAuthState) -> None: ...
    async def take(self, state_digest: str, at: datetime) -> OAuthState | None:
        """The pending state, marked used in the same step; None when unknown or already used."""
        ...

    async def purge_expired(self, before: datetime) -> int: ...
