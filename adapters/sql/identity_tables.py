"""Tables of the document side (Soul, Persona, Account, Proxy) in the relational store.

The back-references (`soul.accountIds`, `proxy.assignedAccountIds`) are not stored here: they are read from the
account rows, so in SQL they cannot drift from the accounts' `soul_id` and `proxy_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from adapters.sql.encrypted_columns import EncryptedColumn, register
from adapters.sql.tables import timestamp_field


def _ref(target: str, *, nullable: bool = True) -> Any:
    # RESTRICT: a referenced row is only removed by the store's explicit unassign/cascade paths.
    return Field(
        default=None,
        sa_column=Column(String(36), ForeignKey(target, ondelete="RESTRICT"), nullable=nullable, index=True),
    )


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PersonaRow(SQLModel, table=True):
    __tablename__ = "persona"
    __table_args__ = (Index("ix_persona_org_created", "organization_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(max_length=36)
    name: str = Field(max_length=200)
    tone: str | None = Field(default=None, max_length=500)
    style: str | None = Field(default=None, max_length=500)
    system_prompt: str | None = None
    timezone: str = Field(max_length=64)
    # demographics, personality, backstory, primaryLocation, languagePreferences, activitySchedule, ...
    profile: dict[str, Any] = _json()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ProxyRow(SQLModel, table=True):
    __tablename__ = "proxy"
    __table_args__ = (Index("ix_proxy_org_created", "organization_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(max_length=36)
    name: str = Field(max_length=200)
    type: str = Field(max_length=16)
    protocol: str = Field(max_length=8)
    host: str = Field(max_length=253)
    port: int
    username: str | None = Field(default=None, max_length=255)
    password: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    provider: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)
    city: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=16)
    last_health_check: datetime | None = timestamp_field(nullable=True)
    health_status: str = Field(max_length=16)
    response_time_ms: int | None = None
    uptime_percentage: float | None = None
    recent_checks: str = Field(default="", max_length=64)
    last_error: str | None = Field(default=None, max_length=500)
    exit_ip: str | None = Field(default=None, max_length=64)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class SoulRow(SQLModel, table=True):
    __tablename__ = "soul"
    __table_args__ = (
        Index("ix_soul_org_created", "organization_id", "created_at", "id"),
        Index("ix_soul_org_status", "organization_id", "status"),
    )

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(max_length=36)
    name: str = Field(max_length=200)
    # Lower case with single spaces, for the name search.
    name_search: str = Field(max_length=200)
    description: str | None = None
    status: str = Field(max_length=16)
    persona_id: str | None = _ref("persona.id")
    proxy_id: str | None = _ref("proxy.id")
    metadata_: dict[str, Any] = Field(default_factory=dict, sa_column=Column("metadata", JSON, nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class AccountRow(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("organization_id", "platform", "handle", name="uq_account_org_platform_handle"),
        Index("ix_account_org_created", "organization_id", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(max_length=36)
    soul_id: str = _ref("soul.id", nullable=False)
    platform: str = Field(max_length=16)
    handle: str = Field(max_length=253)
    display_name: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=16)
    credentials: dict[str, Any] = _json()
    backup_codes_count: int = 0
    proxy_id: str | None = _ref("proxy.id")
    proxy_failed: bool = False
    # Unique: an integration links to at most one account (NULLs do not collide).
    integration_id: str | None = Field(default=None, max_length=36, unique=True)
    metrics: dict[str, Any] = _json()
    warming_config: dict[str, Any] = _json()
    last_activity_at: datetime | None = timestamp_field(nullable=True)
    daily_post_limit: int | None = None
    cooldown_until: datetime | None = timestamp_field(nullable=True)
    cooldown_reason: str | None = Field(default=None, max_length=200)
    warning_count: int = 0
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


# Key rotation finds every sealed value through these (see adapters/sql/encrypted_columns.py).
register(EncryptedColumn(AccountRow.__table__, "credentials", "accounts", shape="map"))  # type: ignore[attr-defined]
register(EncryptedColumn(ProxyRow.__table__, "password", "proxies", field="credentials.password"))  # type: ignore[attr-defined]
