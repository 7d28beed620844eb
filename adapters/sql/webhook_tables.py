"""Tables of the webhook side: an organization's webhooks and every event on its way to one of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from adapters.sql.encrypted_columns import EncryptedColumn, register
from adapters.sql.tables import timestamp_field


class WebhookRow(SQLModel, table=True):
    __tablename__ = "webhook"
    __table_args__ = (Index("ix_webhook_org_created", "organization_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    organization_id: str = Field(
        sa_column=Column(String(36), ForeignKey("organization.id", ondelete="CASCADE"), nullable=False)
    )
    url: str = Field(max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    enabled: bool = True
    # Sealed, bound to `webhooks/<id>` and the field `secret`.
    secret: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


register(EncryptedColumn(WebhookRow.__table__, "secret", "webhooks"))  # type: ignore[attr-defined]


class WebhookDeliveryRow(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_webhook_created", "webhook_id", "created_at", "id"),
        # The sweep's question: which pending deliveries have not been tried for a while?
        Index("ix_webhook_delivery_status_next_attempt", "status", "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    webhook_id: str = Field(sa_column=Column(String(36), ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False))
    organization_id: str = Field(max_length=36)
    event_id: str = Field(max_length=36)
    event_type: str = Field(max_length=40)
    # The body exactly as sent; never a secret (the signature is computed per attempt).
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_attempt_at: datetime | None = timestamp_field(nullable=True)
    last_attempt_at: datetime | None = timestamp_field(nullable=True)
    delivered_at: datetime | None = timestamp_field(nullable=True)
    redelivery_of: str | None = Field(default=None, max_length=36)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
