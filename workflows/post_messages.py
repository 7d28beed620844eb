"""What PostWorkflow takes, answers and accepts (its input, its state, its update arguments), and the name of a
platform's activity queue.

Kept out of workflows/post.py and imported through the sandbox's pass-through: the sandbox runs a workflow's module
afresh for every workflow it starts, and building these pydantic classes each time was the largest part of starting
a PostWorkflow."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.publishing.posts import Approval, DeliveryState


def platform_queue(platform: str, prefix: str = "") -> str:
    """Publishing activities of a platform run on their own queue, whose workers cap the platform's rate."""
    return f"{prefix}platform-{platform}"


class PostInput(BaseModel):
    organization_id: str
    delivery_id: str
    platform: str
    platform_queue: str
    metrics_offsets_s: list[float] = [3600.0, 86400.0, 7 * 86400.0]
    publish_attempts: int = 8
    heartbeat_timeout_s: float = 20.0


class PostState(BaseModel):
    state: DeliveryState
    publish_date: datetime | None = None
    approval: Approval = Approval.NOT_REQUIRED
    error_code: str | None = None
    last_error: str | None = None
    external_id: str | None = None
    url: str | None = None
    metrics_collected: list[str] = []
    # Back in the QUEUE while the account is over its risk limits: publishing resumes then (last_error says why).
    wait_until: datetime | None = None


class RescheduleRequest(BaseModel):
    publish_date: datetime


class Decision(BaseModel):
    approved: bool
