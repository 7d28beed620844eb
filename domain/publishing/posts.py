"""Posts and their Deliveries: a Post is what a Soul says (content, media, publish date); a Delivery is that post on
one channel (Integration), with its own state, attempts, platform id and URL. Each Delivery is published by its own
PostWorkflow (`post:{postId}:{integrationId}`).

States of a delivery: QUEUE -> PUBLISHING -> PUBLISHED | FAILED | UNCONFIRMED, or CANCELLED before publishing.
UNCONFIRMED means a request may have reached the platform but no post could be found or ruled out: a person must look
(the delivery says where), because publishing again blindly could post twice."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.identity.platforms import Platform

# The error code of a delivery back in the QUEUE until its account's risk limits let it publish.
RISK_LIMIT_WAIT = "RiskLimitWait"


class DeliveryState(enum.StrEnum):
    QUEUE = "QUEUE"
    PUBLISHING = "PUBLISHING"
    PUBLISHED = "PUBLISHED"
    FAILED = "FAILED"
    UNCONFIRMED = "UNCONFIRMED"
    CANCELLED = "CANCELLED"


class Approval(enum.StrEnum):
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Media(BaseModel):
    url: str
    kind: str = "image"  # image | video | gif
    alt_text: str | None = None


class Post(BaseModel):
    id: str
    organization_id: str
    soul_id: str
    content: str
    media: list[Media] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    publish_date: datetime
    approval: Approval = Approval.NOT_REQUIRED
    decided_by: str | None = None
    decision_note: str | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class Delivery(BaseModel):
    id: str
    organization_id: str
    post_id: str
    soul_id: str
    integration_id: str
    platform: Platform
    account_id: str | None = None
    state: DeliveryState = DeliveryState.QUEUE
    publish_date: datetime
    attempts: int = 0
    last_error: str | None = None
    error_code: str | None = None  # the error class: Duplicate, InvalidContent, AuthRevoked, ProxyFailed, ...
    external_id: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    first_attempt_at: datetime | None = None
    journal: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    metrics_at: datetime | None = None
    scheduled: bool = False  # a PostWorkflow was started for it (the reconciler starts the rest)
    created_at: datetime
    updated_at: datetime

    @property
    def idempotency_key(self) -> str:
        return f"{self.post_id}:{self.integration_id}"


def workflow_id(post_id: str, integration_id: str) -> str:
    return f"post:{post_id}:{integration_id}"


class PostFilter(BaseModel):
    state: DeliveryState | None = None
    soul_id: str | None = None
    integration_id: str | None = None
    publish_from: datetime | None = None
    publish_to: datetime | None = None
