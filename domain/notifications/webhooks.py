"""Outgoing webhooks: an organization's endpoints that are told when a delivery is PUBLISHED, FAILED or UNCONFIRMED
and when a channel needs reconnecting.

Every request is signed: `X-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The secret
is shown once (on creation and rotation), stored sealed (bound to `webhooks/<id>`, field `secret`) and never enters a
payload, a log line or workflow history. `X-Webhook-Id` is the delivery's id, the same on every retry, so a receiver
can drop repeats; the body's `id` is the event's, the same for every webhook told of it and for a redelivery."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

SIGNATURE_HEADER = "X-Webhook-Signature"
EVENT_HEADER = "X-Webhook-Event"
ID_HEADER = "X-Webhook-Id"
SECRET_FIELD = "secret"  # noqa: S105 - the name of the sealed field, not a secret
# A receiver should refuse a signature older than this (replays of a captured request).
SIGNATURE_TOLERANCE_S = 300

_DELIVERY_IDS = uuid.UUID("6f1d3c1e-5a0b-4c53-9a57-0c2b9f0e7d41")


class WebhookEvent(enum.StrEnum):
    POST_PUBLISHED = "post.published"
    POST_FAILED = "post.failed"
    POST_UNCONFIRMED = "post.unconfirmed"
    INTEGRATION_REFRESH_NEEDED = "integration.refresh_needed"
    PING = "ping"  # sent on request (the test button), never subscribed to


SUBSCRIBABLE: tuple[WebhookEvent, ...] = (
    WebhookEvent.POST_PUBLISHED,
    WebhookEvent.POST_FAILED,
    WebhookEvent.POST_UNCONFIRMED,
    WebhookEvent.INTEGRATION_REFRESH_NEEDED,
)


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Webhook(BaseModel):
    id: str
    organization_id: str
    url: str
    description: str | None = None
    events: list[WebhookEvent]
    enabled: bool = True
    secret: dict[str, str]  # sealed
    created_at: datetime
    updated_at: datetime

    def wants(self, event: WebhookEvent) -> bool:
        return self.enabled and event in self.events


class WebhookDelivery(BaseModel):
    """One event on its way to one webhook: the exact body (never a secret), and how sending it went."""

    id: str
    webhook_id: str
    organization_id: str
    event_id: str
    event_type: WebhookEvent
    payload: dict[str, Any]
    status: WebhookDeliveryStatus = WebhookDeliveryStatus.PENDING
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    redelivery_of: str | None = None
    created_at: datetime
    updated_at: datetime


class Event(BaseModel):
    """Something that happened in an organization, told to each of its webhooks that subscribed to its type."""

    id: str
    type: WebhookEvent
    organization_id: str
    created_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "createdAt": self.created_at.isoformat().replace("+00:00", "Z"),
            "organizationId": self.organization_id,
            "data": self.data,
        }


def webhook_record(webhook_id: str) -> str:
    return f"webhooks/{webhook_id}"


def workflow_id(delivery_id: str) -> str:
    return f"webhook:{delivery_id}"


def delivery_id(event_id: str, webhook_id: str) -> str:
    """The same event for the same webhook always gets the same delivery: emitting twice (a retried activity) stores
    and sends it once."""
    return str(uuid.uuid5(_DELIVERY_IDS, f"{event_id}/{webhook_id}"))


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<raw body>` under the webhook's secret."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = SIGNATURE_TOLERANCE_S) -> bool:
    """What a receiver does: the header's time is recent and one of its `v1` signatures matches the raw body."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
