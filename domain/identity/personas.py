from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, Field

from domain.errors import InvalidInput


class Persona(BaseModel):
    """The AI persona a Soul speaks with: voice (tone, style, system prompt) and profile."""

    id: str
    organization_id: str
    name: str
    tone: str | None = None
    style: str | None = None
    system_prompt: str | None = None
    demographics: dict[str, Any] = Field(default_factory=dict)
    personality: dict[str, Any] = Field(default_factory=dict)
    backstory: str | None = None
    primary_location: str | None = None
    timezone: str = "UTC"
    language_preferences: list[str] = Field(default_factory=list)
    activity_schedule: dict[str, Any] = Field(default_factory=dict)
    content_themes: list[str] = Field(default_factory=list)
    engagement_style: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


_ZONES: frozenset[str] | None = None


def validate_timezone(name: str) -> str:
    """An IANA time zone name such as Asia/Manila; raises InvalidInput naming `timezone`."""
    global _ZONES  # the zone list is read from disk once
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    candidate = name.strip()
    try:
        if candidate not in _ZONES and candidate != "UTC":
            raise ZoneInfoNotFoundError(candidate)
        ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{name!r} is not an IANA time zone name (such as Asia/Manila or Europe/Berlin).",
            field="timezone",
            code="invalid_timezone",
        ) from None
    return candidate
