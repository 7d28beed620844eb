"""The audit log: who did what to which object, for every sensitive operation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.auth import ActorType


class AuditAction:
    """Action names are stable strings: `<resource>.<verb>`."""

    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    REGISTER = "auth.register"
    REFRESH_REUSE = "auth.refresh_reuse_detected"
    INVITATION_ACCEPTED = "auth.invitation_accepted"
    USER_CREATE = "user.create"
    USER_INVITE = "user.invite"
    USER_UPDATE = "user.update"
    USER_DELETE = "user.delete"
    API_KEY_CREATE = "api_key.create"
    API_KEY_DELETE = "api_key.delete"


class AuditEntry(BaseModel):
    id: str
    organization_id: str
    actor_type: ActorType
    actor_id: str | None
    action: str
    target_type: str | None = None
    target_id: str | None = None
    ip: str | None = None
    # Context for the reader; never secrets (services pass names and ids, not values).
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class AuditFilter(BaseModel):
    action: str | None = None
    actor_id: str | None = None
