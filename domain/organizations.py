"""Organizations and their users."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.auth import Role
from domain.identity.risk import OverLimitPolicy


class Organization(BaseModel):
    id: str
    name: str
    # Publishing through an account that has no proxy assigned: refused unless the organization allows direct calls.
    allow_direct_publishing: bool = False
    # An account over its risk limits (daily posts, cooldown): its deliveries wait for the next window, or fail.
    over_limit_policy: OverLimitPolicy = OverLimitPolicy.WAIT
    # Set when DELETE /axon/organization starts the OrganizationDeletionWorkflow: from then on the API answers 410.
    deletion_started_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class User(BaseModel):
    id: str
    organization_id: str
    email: str
    name: str
    role: Role
    password_hash: str | None = None
    is_active: bool = True
    # An invited user has no password until they accept; the invitation token is stored as a digest only.
    invitation_digest: str | None = None
    invitation_expires_at: datetime | None = None
    last_login_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def is_invited(self) -> bool:
        return self.password_hash is None and self.invitation_digest is not None


def normalize_email(email: str) -> str:
    return email.strip().lower()
