"""Integrations: OAuth-connected publishing channels (relational store). Tokens are sealed, bound to
`integrations/<id>` and the field name; they never leave the server."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.identity.platforms import Platform


class Integration(BaseModel):
    id: str
    organization_id: str
    provider_identifier: Platform
    internal_id: str  # the platform's id of the connected user or page
    name: str
    handle: str | None = None
    picture: str | None = None
    # Per-instance platforms (Mastodon): the instance the channel lives on; None means the platform's default host.
    api_base: str | None = None
    token: dict[str, str] | None = None
    refresh_token: dict[str, str] | None = None
    token_expiration: datetime | None = None
    disabled: bool = False
    refresh_needed: bool = False
    # The refresh journal: set just before a refresh request is sent, cleared when its answer is known. A fingerprint of
    # the refresh token being presented (never the token): an attempt that finds it knows its predecessor may have
    # spent that token at the platform without our learning the new one.
    refresh_in_flight_at: datetime | None = None
    refresh_in_flight_fingerprint: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def status(self) -> str:
        if self.disabled:
            return "disabled"
        return "refresh_needed" if self.refresh_needed else "connected"


def integration_record(integration_id: str) -> str:
    return f"integrations/{integration_id}"
