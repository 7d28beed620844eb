"""Who is calling and what they may do."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def rank(self) -> int:
        return {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


NEVER = datetime.max.replace(tzinfo=UTC)


class ActorType(enum.StrEnum):
    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    organization_id: str
    role: Role
    session_id: str
    expires_at: datetime = NEVER


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request: a user (bearer token) or an API key (X-API-Key)."""

    actor_type: ActorType
    actor_id: str
    organization_id: str
    role: Role
    session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role.at_least(Role.ADMIN)
