"""Webhooks: the organization's endpoints (owners and admins manage them; members may look), and the notifier that
turns an event into one delivery per subscribed webhook and hands each to the durable sender.

A delivery row is written before its sending starts, in the transaction that decides the event when there is one
(a channel marked refresh_needed), so an event is never lost: a row whose sending did not start is picked up by the
sweep. Its id follows from the event and the webhook, so emitting an event twice stores and sends it once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from domain.auth import Principal
from domain.channels.integrations import Integration
from domain.clock import Clock
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.ids import new_id
from domain.notifications.events import ping_event, refresh_needed_event
from domain.notifications.ports import WebhookSender
from domain.notifications.targets import refused_host
from domain.notifications.webhooks import (
    SECRET_FIELD,
    SUBSCRIBABLE,
    Event,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    delivery_id,
    new_secret,
    webhook_record,
)
from domain.pagination import Page, PageRequest
from domain.ports import FieldSealer, UnitOfWork, UnitOfWorkFactory
from domain.services import audit

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048


def check_url(url: str, *, private_targets: bool = False) -> str:
    """An absolute http(s) URL with a host and no credentials (they would be stored and shown in clear), whose host
    is not, as written, a private address (domain.notifications.targets) unless the deployment allows those."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or len(url) > MAX_URL_LENGTH
    ):
        raise InvalidInput("url must be an absolute http(s) URL.", field="url", code="webhook_url_invalid")
    if parts.username or parts.password:
        raise InvalidInput(
            "url must not carry credentials: receivers check the signature instead.",
            field="url",
            code="webhook_url_invalid",
        )
    refused = None if private_targets else refused_host(parts.hostname)
    if refused is not None:
        raise InvalidInput(
            f"url must reach a public internet address: {refused}.", field="url", code="webhook_url_private"
        )
    return url


def check_events(events: list[WebhookEvent] | None) -> list[WebhookEvent]:
    """The subscribed events, deduplicated in their canonical order; none named means all of them."""
    if events is None:
        return list(SUBSCRIBABLE)
    unknown = [e for e in events if e not in SUBSCRIBABLE]
    if unknown or not events:
        raise InvalidInput(
            f"events must be some of {', '.join(SUBSCRIBABLE)}.", field="events", code="webhook_event_invalid"
        )
    return [e for e in SUBSCRIBABLE if e in events]


class WebhookNotifier:
    """Events in, deliveries out. Used by the activities that decide events and by the API's test and redelivery."""

    def __init__(self, uows: UnitOfWorkFactory, sender: WebhookSender, clock: Clock, link_base: str) -> None:
        self._uows = uows
        self._sender = sender
        self._clock = clock
        self.link_base = link_base

    def deliveries_for(self, event: Event, webhooks: list[Webhook]) -> list[WebhookDelivery]:
        now = self._clock.now()
        body = event.body()
        return [
            WebhookDelivery(
                id=delivery_id(event.id, hook.id),
                webhook_id=hook.id,
                organization_id=event.organization_id,
                event_id=event.id,
                event_type=event.type,
                payload=body,
                created_at=now,
                updated_at=now,
            )
            for hook in webhooks
        ]

    async def enqueue(self, uow: UnitOfWork, event: Event) -> list[WebhookDelivery]:
        """Inside the caller's transaction: one pending delivery per enabled webhook subscribed to the event.
        Call `send` with the result once the transaction has committed."""
        hooks = [h for h in await uow.webhooks.enabled(event.organization_id) if h.wants(event.type)]
        stored = await uow.webhook_deliveries.add_missing(self.deliveries_for(event, hooks))
        return [d for d in stored if d.status == WebhookDeliveryStatus.PENDING]

    async def send(self, deliveries: list[WebhookDelivery], *, strict: bool = False) -> None:
        """Start the sending of committed deliveries. Not strict: a Temporal outage is logged and left to the
        sweep (the caller's own work has committed and must not be repeated)."""
        for delivery in deliveries:
            try:
                await self._sender.start(delivery)
            except Exception:
                if strict:
                    raise
                log.warning("could not start sending webhook delivery %s; the sweep will", delivery.id)

    async def emit(self, event: Event) -> list[WebhookDelivery]:
        """In a transaction of its own (for events decided elsewhere, e.g. by a workflow); idempotent per event id."""
        async with self._uows.reading() as uow:
            hooks = await uow.webhooks.enabled(event.organization_id)
        if not any(h.wants(event.type) for h in hooks):
            return []  # the common case: read only, no write lock taken
        async with self._uows() as uow:
            queued = await self.enqueue(uow, event)
            await uow.commit()
        await self.send(queued, strict=True)
        return queued

    async def integration_refresh_needed(
        self, uow: UnitOfWork, integration: Integration, reason: str
    ) -> list[WebhookDelivery]:
        """Inside the transaction that marks the channel: its `integration.refresh_needed` deliveries."""
        event = refresh_needed_event(self.link_base, integration, reason, event_id=new_id(), at=self._clock.now())
        return await self.enqueue(uow, event)


@dataclass(frozen=True)
class WebhookInput:
    url: str
    events: list[WebhookEvent] | None = None
    description: str | None = None


class WebhookService:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        sealer: FieldSealer,
        clock: Clock,
        notifier: WebhookNotifier,
        *,
        private_targets: bool = False,
    ) -> None:
        self._uows = uows
        self._sealer = sealer
        self._clock = clock
        self._notifier = notifier
        self._private_targets = private_targets

    def _seal(self, webhook_id: str, secret: str) -> dict[str, str]:
        return self._sealer.encrypt(secret, record=webhook_record(webhook_id), field=SECRET_FIELD)

    # --- manage ------------------------------------------------------------------------------------------------

    async def create(self, principal: Principal, data: WebhookInput, *, ip: str | None) -> tuple[Webhook, str]:
        _require_admin(principal)
        now = self._clock.now()
        webhook_id, secret = new_id(), new_secret()
        url = check_url(data.url, private_targets=self._private_targets)
        webhook = Webhook(
            id=webhook_id, organization_id=principal.organization_id, url=url,
            description=data.description, events=check_events(data.events), secret=self._seal(webhook_id, secret),
            created_at=now, updated_at=now,
        )  # fmt: skip
        async with self._uows() as uow:
            await uow.webhooks.add(webhook)
            await self._audit(uow, principal, "webhook.create", webhook, ip, {"url": webhook.url})
            await uow.commit()
        return webhook, secret

    async def list(self, principal: Principal, page: PageRequest) -> Page[Webhook]:
        async with self._uows.reading() as uow:
            return await uow.webhooks.list(principal.organization_id, page)

    async def get(self, principal: Principal, webhook_id: str) -> Webhook:
        async with self._uows.reading() as uow:
            return await self._get(uow, principal, webhook_id)

    async def update(
        self, principal: Principal, webhook_id: str, changes: dict[str, Any], *, ip: str | None
    ) -> Webhook:
        _require_admin(principal)
        if "url" in changes:
            changes["url"] = check_url(changes["url"], private_targets=self._private_targets)
        if "events" in changes:
            changes["events"] = check_events(changes["events"])
        async with self._uows() as uow:
            webhook = await self._get(uow, principal, webhook_id)
            changed = webhook.model_copy(update={**changes, "updated_at": self._clock.now()})
            await uow.webhooks.update(changed)
            details = {k: [e.value for e in v] if k == "events" else v for k, v in changes.items()}
            await self._audit(uow, principal, "webhook.update", changed, ip, details)
            await uow.commit()
        return changed

    async def delete(self, principal: Principal, webhook_id: str, *, ip: str | None) -> None:
        _require_admin(principal)
        async with self._uows() as uow:
            webhook = await self._get(uow, principal, webhook_id)
            await uow.webhooks.delete(principal.organization_id, webhook_id)
            await self._audit(uow, principal, "webhook.delete", webhook, ip, {"url": webhook.url})
            await uow.commit()

    async def rotate_secret(self, principal: Principal, webhook_id: str, *, ip: str | None) -> tuple[Webhook, str]:
        """A new secret at once; retries still in flight are signed with it."""
        _require_admin(principal)
        secret = new_secret()
        async with self._uows() as uow:
            webhook = await self._get(uow, principal, webhook_id)
            changed = webhook.model_copy(
                update={"secret": self._seal(webhook.id, secret), "updated_at": self._clock.now()}
            )
            await uow.webhooks.update(changed)
            await self._audit(uow, principal, "webhook.rotate_secret", changed, ip, {})
            await uow.commit()
        return changed, secret

    # --- deliveries ----------------------------------------------------------------------------------------------

    async def test(self, principal: Principal, webhook_id: str) -> WebhookDelivery:
        """Send a `ping` to this webhook, durably, as any event would be."""
        _require_admin(principal)
        async with self._uows() as uow:
            webhook = self._sendable(await self._get(uow, principal, webhook_id))
            event = ping_event(self._notifier.link_base, webhook, event_id=new_id(), at=self._clock.now())
            queued = await uow.webhook_deliveries.add_missing(self._notifier.deliveries_for(event, [webhook]))
            await uow.commit()
        await self._notifier.send(queued)
        return queued[0]

    async def deliveries(self, principal: Principal, webhook_id: str, page: PageRequest) -> Page[WebhookDelivery]:
        async with self._uows.reading() as uow:
            await self._get(uow, principal, webhook_id)
            return await uow.webhook_deliveries.list(principal.organization_id, webhook_id, page)

    async def redeliver(self, principal: Principal, delivery_id: str) -> WebhookDelivery:
        """Send a finished delivery's event again, as a new delivery (a new X-Webhook-Id, the same event id)."""
        _require_admin(principal)
        now = self._clock.now()
        async with self._uows() as uow:
            original = await uow.webhook_deliveries.get(principal.organization_id, delivery_id)
            if original is None:
                raise NotFound("Webhook delivery", delivery_id)
            if original.status == WebhookDeliveryStatus.PENDING:
                raise Conflict("This delivery is still being sent.", code="webhook_delivery_pending")
            self._sendable(await self._get(uow, principal, original.webhook_id))
            again = original.model_copy(update={
                "id": new_id(), "status": WebhookDeliveryStatus.PENDING, "attempts": 0, "last_status_code": None,
                "last_error": None, "next_attempt_at": None, "last_attempt_at": None, "delivered_at": None,
                "redelivery_of": original.id, "created_at": now, "updated_at": now,
            })  # fmt: skip
            queued = await uow.webhook_deliveries.add_missing([again])
            await uow.commit()
        await self._notifier.send(queued)
        return queued[0]

    # --- helpers -----------------------------------------------------------------------------------------------

    async def _get(self, uow: UnitOfWork, principal: Principal, webhook_id: str) -> Webhook:
        webhook = await uow.webhooks.get(principal.organization_id, webhook_id)
        if webhook is None:
            raise NotFound("Webhook", webhook_id)
        return webhook

    @staticmethod
    def _sendable(webhook: Webhook) -> Webhook:
        if not webhook.enabled:
            raise Conflict("The webhook is disabled: enable it first.", code="webhook_disabled")
        return webhook

    @staticmethod
    async def _audit(
        uow: UnitOfWork, principal: Principal, action: str, webhook: Webhook, ip: str | None, details: dict[str, Any]
    ) -> None:
        await audit.record(
            uow, organization_id=principal.organization_id, actor=principal, action=action, target_type="webhook",
            target_id=webhook.id, ip=ip, details=details,
        )  # fmt: skip


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only owners and admins can manage webhooks.", code="role_required")
