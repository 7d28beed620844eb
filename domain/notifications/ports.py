"""Contracts of the webhook side: its two repositories (inside the unit of work's transaction) and the durable
sender (Temporal in adapters/temporal/webhooks.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.notifications.webhooks import Webhook, WebhookDelivery, WebhookDeliveryStatus
from domain.pagination import Page, PageRequest


class WebhookRepository(Protocol):
    async def add(self, webhook: Webhook) -> None: ...
    async def get(self, organization_id: str, webhook_id: str) -> Webhook | None: ...
    async def enabled(self, organization_id: str) -> list[Webhook]: ...
    async def update(self, webhook: Webhook) -> None: ...
    async def delete(self, organization_id: str, webhook_id: str) -> None: ...
    async def list(self, organization_id: str, page: PageRequest) -> Page[Webhook]: ...


class WebhookDeliveryRepository(Protocol):
    async def add_missing(self, deliveries: list[WebhookDelivery]) -> list[WebhookDelivery]:
        """Store the deliveries not stored yet (same id); returns every one as stored."""
        ...

    async def get(self, organization_id: str, delivery_id: str) -> WebhookDelivery | None: ...
    async def record_attempt(
        self,
        delivery_id: str,
        *,
        at: datetime,
        status: WebhookDeliveryStatus,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        """Count one attempt and what came of it."""
        ...

    async def finish(self, delivery_id: str, *, status: WebhookDeliveryStatus, error: str | None, at: datetime) -> bool:
        """Move a pending delivery to a final status (keeping a recorded error); False when it was not pending."""
        ...

    async def stale_pending(self, before: datetime, limit: int) -> list[WebhookDelivery]:
        """Pending deliveries whose next attempt (or creation) is older than `before`: their sending may be lost."""
        ...

    async def list(self, organization_id: str, webhook_id: str, page: PageRequest) -> Page[WebhookDelivery]:
        """Newest first."""
        ...

    async def delete_older_than(self, cutoff: datetime, limit: int) -> int:
        """Retention: up to `limit` finished deliveries (delivered or failed) created before `cutoff`; how many."""
        ...


class WebhookSender(Protocol):
    async def start(self, delivery: WebhookDelivery) -> None:
        """Start the durable sending of one delivery; starting one that runs already is a no-op."""
        ...
