"""Tables of the publishing side: posts and their per-channel deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from adapters.sql.tables import timestamp_field


class PostRow(SQLModel, table=True):
    __tablename__ = "post"
    __table_args__ = (
        Index("ix_post_org_created", "organization_id", "created_at", "id"),
        Index("ix_post_org_soul", "organization_id", "soul_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(
        sa_column=Column(String(36), ForeignKey("organization.id", ondelete="CASCADE"), nullable=False)
    )
    # The soul lives in the document store (maybe Firestore): no foreign key; the deletion workflow cleans up.
    soul_id: str = Field(max_length=36)
    content: str = Field(sa_column=Column(Text, nullable=False))
    media: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    publish_date: datetime = timestamp_field()
    approval: str = Field(max_length=16)
    decided_by: str | None = Field(default=None, max_length=36)
    decision_note: str | None = Field(default=None, max_length=2000)
    created_by: str | None = Field(default=None, max_length=36)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("post_id", "integration_id", name="uq_delivery_post_integration"),
        # The reconciler's question: which unfinished deliveries are due?
        Index("ix_delivery_state_publish_date", "state", "publish_date"),
        Index("ix_delivery_org_integration", "organization_id", "integration_id"),
        # The publish activity counts an account's deliveries of the day (risk limits) while it claims one.
        Index("ix_delivery_account_state", "account_id", "state", "published_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(max_length=36)
    post_id: str = Field(
        sa_column=Column(String(36), ForeignKey("post.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    soul_id: str = Field(max_length=36)
    # No foreign key to the integration: a disconnected channel keeps its delivery history.
    integration_id: str = Field(max_length=36)
    platform: str = Field(max_length=16)
    account_id: str | None = Field(default=None, max_length=36)
    state: str = Field(max_length=16)
    publish_date: datetime = timestamp_field()
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_code: str | None = Field(default=None, max_length=40)
    external_id: str | None = Field(default=None, max_length=512)
    url: str | None = Field(default=None, max_length=2048)
    published_at: datetime | None = timestamp_field(nullable=True)
    first_attempt_at: datetime | None = timestamp_field(nullable=True)
    journal: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    metrics_at: datetime | None = timestamp_field(nullable=True)
    scheduled: bool = False
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
