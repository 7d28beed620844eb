"""Tables of the channels side: integrations and the Soul x Integration mappings (the Matrix)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from adapters.sql.encrypted_columns import EncryptedColumn, register
from adapters.sql.tables import timestamp_field


class IntegrationRow(SQLModel, table=True):
    __tablename__ = "integration"
    __table_args__ = (
        UniqueConstraint(
            "organization_id", "provider_identifier", "internal_id", name="uq_integration_org_provider_internal"
        ),
        Index("ix_integration_org_created", "organization_id", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(
        sa_column=Column(String(36), ForeignKey("organization.id", ondelete="CASCADE"), nullable=False)
    )
    provider_identifier: str = Field(max_length=16)
    internal_id: str = Field(max_length=255)
    name: str = Field(max_length=255)
    handle: str | None = Field(default=None, max_length=253)
    picture: str | None = Field(default=None, max_length=2048)
    api_base: str | None = Field(default=None, max_length=2048)
    token: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    refresh_token: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    token_expiration: datetime | None = timestamp_field(nullable=True)
    disabled: bool = False
    refresh_needed: bool = False
    # A refresh sent and not yet answered: when, and a sha256 prefix of the refresh token presented (never the token).
    refresh_in_flight_at: datetime | None = timestamp_field(nullable=True)
    refresh_in_flight_fingerprint: str | None = Field(default=None, max_length=64)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class MappingRow(SQLModel, table=True):
    __tablename__ = "soul_integration_mapping"
    __table_args__ = (
        UniqueConstraint("soul_id", "integration_id", name="uq_soul_integration_mapping_soul_integration"),
        # At most one primary channel per soul and platform, enforced by the database itself.
        Index(
            "uq_soul_integration_mapping_primary",
            "soul_id",
            "platform",
            unique=True,
            postgresql_where=text("is_primary"),
            sqlite_where=text("is_primary"),
        ),
        Index("ix_soul_integration_mapping_org_soul", "organization_id", "soul_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(max_length=36)
    # The soul lives in the document store (maybe Firestore): no foreign key; deletion workflows clean up.
    soul_id: str = Field(max_length=36)
    integration_id: str = Field(
        sa_column=Column(String(36), ForeignKey("integration.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    platform: str = Field(max_length=16)
    account_id: str | None = Field(default=None, max_length=36, index=True)
    is_primary: bool = False
    priority: int = 0
    notes: str | None = Field(default=None, max_length=2000)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


register(EncryptedColumn(IntegrationRow.__table__, "token", "integrations"))  # type: ignore[attr-defined]
register(EncryptedColumn(IntegrationRow.__table__, "refresh_token", "integrations", field="refreshToken"))  # type: ignore[attr-defined]


class OAuthStateRow(SQLModel, table=True):
    """A pending OAuth authorization: single use, short-lived, bound to the organization, the user and the platform.
    The key is the digest of the `state` sent to the platform; the PKCE verifier is sealed (and left out of key
    rotation: a state lives ten minutes)."""

    __tablename__ = "oauth_state"

    state_digest: str = Field(primary_key=True, max_length=64)
    organization_id: str = Field(
        sa_column=Column(String(36), ForeignKey("organization.id", ondelete="CASCADE"), nullable=False)
    )
    actor_id: str = Field(max_length=36)
    platform: str = Field(max_length=16)
    redirect_uri: str = Field(max_length=2048)
    code_verifier: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    api_base: str | None = Field(default=None, max_length=2048)
    account_id: str | None = Field(default=None, max_length=36)
    soul_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(index=True)
    used_at: datetime | None = timestamp_field(nullable=True)


class PlatformAppRow(SQLModel, table=True):
    """An app we registered on a platform instance (Mastodon's POST /api/v1/apps): one per instance and redirect
    URI, shared by every organization connecting accounts of that instance. The client secret is sealed."""

    __tablename__ = "platform_app"
    __table_args__ = (
        UniqueConstraint("platform", "api_base", "redirect_uri", name="uq_platform_app_platform_api_base_redirect"),
    )

    id: str = Field(primary_key=True, max_length=36)
    platform: str = Field(max_length=16)
    api_base: str = Field(max_length=2048)
    client_id: str = Field(max_length=255)
    client_secret: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    scopes: str = Field(max_length=1024)
    redirect_uri: str = Field(max_length=2048)
    created_at: datetime = timestamp_field()


register(EncryptedColumn(PlatformAppRow.__table__, "client_secret", "platform_apps", field="clientSecret"))  # type: ignore[attr-defined]
