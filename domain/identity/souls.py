from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import Conflict, InvalidInput


class SoulStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"
    # Set by DELETE while the SoulDeletionWorkflow removes what the soul has; never set by a client.
    DELETING = "deleting"


class Soul(BaseModel):
    """A brand identity. `account_ids` is maintained by the stores from the accounts' `soul_id`.

    Frozen, and nobody changes its lists or dicts in place: a store may hand one instance to many readers
    (adapters.sql.identity.common.RawReader); a change is a `model_copy(update=...)`."""

    model_config = ConfigDict(frozen=True)

    id: str
    organization_id: str
    name: str
    description: str | None = None
    status: SoulStatus = SoulStatus.ACTIVE
    persona_id: str | None = None
    proxy_id: str | None = None
    account_ids: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class SoulDeleting(Conflict):
    def __init__(self, soul_id: str) -> None:
        super().__init__(f"Soul {soul_id!r} is being deleted.", code="soul_deleting")


def ensure_accepts_work(soul: Soul) -> None:
    """A soul being deleted takes no new posts, mappings or changes: the deletion workflow would miss them."""
    if soul.status is SoulStatus.DELETING:
        raise SoulDeleting(soul.id)


def settable_status(status: SoulStatus) -> SoulStatus:
    if status == SoulStatus.DELETING:
        raise InvalidInput(
            "status 'deleting' is set by DELETE /axon/souls/{id}, not by a client.",
            field="status",
            code="status_not_settable",
        )
    return status


class SoulFilter(BaseModel):
    status: SoulStatus | None = None
    search: str | None = None  # case-insensitive: the name, or a word of it, starts with this


def search_terms(name: str) -> list[str]:
    """Every prefix of the name and of each word of it (lower case), so stores can match a search by equality."""
    lowered = " ".join(name.lower().split())
    terms: set[str] = set()
    starts = [0] + [i + 1 for i, ch in enumerate(lowered) if ch == " "]
    for start in starts:
        for end in range(start + 1, min(len(lowered), start + 40) + 1):
            terms.add(lowered[start:end])
    return sorted(terms)
