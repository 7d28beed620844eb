from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.identity.platforms import Platform


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"
    WARMING = "warming"


# The credential fields of an account, in API (camelCase) names; each is sealed separately.
CREDENTIAL_FIELDS = (
    "username",
    "password",
    "accessToken",
    "refreshToken",
    "apiKey",
    "apiSecret",
    "twoFactorSecret",
    "backupCodes",
)

SealedValue = dict[str, str]


class Account(BaseModel):
    """A Soul's account on one platform. Credentials are stored sealed (AES-GCM), one value per field, bound to
    `accounts/<id>` and `credentials.<field>`; `backup_codes_count` lets responses describe them unopened.

    Frozen, and nobody changes its dicts in place: a store may hand one instance to many readers
    (adapters.sql.identity.common.RawReader); a change is a `model_copy(update=...)`."""

    model_config = ConfigDict(frozen=True)

    id: str
    organization_id: str
    soul_id: str
    platform: Platform
    handle: str
    display_name: str | None = None
    status: AccountStatus = AccountStatus.ACTIVE
    credentials: dict[str, SealedValue] = Field(default_factory=dict)
    backup_codes_count: int = 0
    proxy_id: str | None = None
    # Set by the stores, never by a caller: the assigned proxy failed its health checks (see domain/identity/proxies).
    proxy_failed: bool = False
    integration_id: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    warming_config: dict[str, Any] = Field(default_factory=dict)
    last_activity_at: datetime | None = None
    # Risk limits (domain/identity/risk.py): posts a day (None: no limit), no posting before `cooldown_until`, and
    # how many times a platform flagged the account (rate limits, spam).
    daily_post_limit: int | None = None
    cooldown_until: datetime | None = None
    cooldown_reason: str | None = None
    warning_count: int = 0
    created_at: datetime
    updated_at: datetime


class AccountFilter(BaseModel):
    soul_id: str | None = None
    integration_id: str | None = None
    handle: str | None = None
    platform: Platform | None = None
    status: AccountStatus | None = None


def credentials_record(account_id: str) -> str:
    return f"accounts/{account_id}"


def credential_field(name: str) -> str:
    return f"credentials.{name}"
