"""SQLModel tables of the relational store. Alembic migrations under migrations/ create and change them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, MetaData, String
from sqlmodel import Field, SQLModel

from adapters.sql.types import UTCDateTime

# Stable constraint names, so migrations can refer to (and drop) them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)
metadata = SQLModel.metadata


def timestamp_field(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _fk(target: str, *, index: bool = True, nullable: bool = False) -> Any:
    return Field(sa_column=Column(String(36), ForeignKey(target, ondelete="CASCADE"), nullable=nullable, index=index))


class OrganizationRow(SQLModel, table=True):
    __tablename__ = "organization"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    allow_direct_publishing: bool = False
    over_limit_policy: str = Field(default="wait", max_length=8)
    deletion_started_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class UserRow(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = (Index("ix_app_user_org_created", "organization_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = _fk("organization.id", index=False)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    invitation_digest: str | None = Field(default=None, max_length=64, unique=True)
    invitation_expires_at: datetime | None = timestamp_field(nullable=True)
    last_login_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class RefreshTokenRow(SQLModel, table=True):
    __tablename__ = "refresh_token"

    id: str = Field(primary_key=True, max_length=36)
    user_id: str = _fk("app_user.id")
    organization_id: str = _fk("organization.id", index=False)
    family_id: str = Field(max_length=36, index=True)
    token_digest: str = Field(max_length=64, unique=True)
    expires_at: datetime = timestamp_field()
    used_at: datetime | None = timestamp_field(nullable=True)
    revoked_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_org_created", "organization_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = _fk("organization.id", index=False)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16, unique=True)
    key_digest: str = Field(max_length=64)
    role: str = Field(max_length=16)
    created_by: str = Field(max_length=36)
    created_at: datetime = timestamp_field()
    last_used_at: datetime | None = timestamp_field(nullable=True)


class AuditLogRow(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_org_created", "organization_id", "created_at", "id"),
        Index("ix_audit_log_org_action", "organization_id", "action"),
        Index("ix_audit_log_org_actor", "organization_id", "actor_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    # No foreign key: the audit trail outlives deleted users and is removed with its organization explicitly.
    organization_id: str = Field(max_length=36)
    actor_type: str = Field(max_length=16)
    actor_id: str | None = Field(default=None, max_length=36)
    action: str = Field(max_length=64)
    target_type: str | None = Field(default=None, max_length=32)
    target_id: str | None = Field(default=None, max_length=64)
    ip: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = timestamp_field(index=True)


class LoginFailureRow(SQLModel, table=True):
    """Failed sign-ins per key (`account:<email>` or `client:<ip>`), in the database so every API replica agrees."""

    __tablename__ = "login_failure"

    key: str = Field(primary_key=True, max_length=400)
    count: int = 0
    window_started_at: datetime = timestamp_field()
    locked_until: datetime | None = timestamp_field(nullable=True)
