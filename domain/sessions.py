"""Refresh tokens. Each login starts a family; each refresh rotates to a new token of the same family.
Presenting a token that was already used means it leaked: the whole family is revoked."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RefreshToken(BaseModel):
    id: str
    user_id: str
    organization_id: str
    family_id: str
    token_digest: str
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    created_at: datetime
