"""The Matrix: which Soul publishes through which Integration (M:N), with priority, notes, the Account the channel
belongs to, and at most one primary channel per Soul and platform."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.identity.platforms import Platform


class Mapping(BaseModel):
    id: str
    organization_id: str
    soul_id: str
    integration_id: str
    platform: Platform  # the integration's, kept here so "one primary per soul and platform" is a unique index
    account_id: str | None = None
    is_primary: bool = False
    priority: int = 0
    notes: str | None = None
    created_at: datetime
    updated_at: datetime


class MatrixFilter(BaseModel):
    platform: Platform | None = None
    soul_search: str | None = None
    connected_only: bool = False
