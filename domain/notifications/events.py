"""The events webhooks are told of, built from the records they describe. Each links to where a person looks next:
the post (`/axon/posts/<postId>`) or the channel list. Data carries ids, states, URLs and error classes, never a
token or a secret."""

from __future__ import annotations

from datetime import datetime

from domain.channels.integrations import Integration
from domain.notifications.webhooks import Event, Webhook, WebhookEvent
from domain.publishing.posts import Delivery, DeliveryState

# The event a delivery's final state is told as (CANCELLED is told to no one: a person did it).
EVENT_FOR_STATE = {
    DeliveryState.PUBLISHED: WebhookEvent.POST_PUBLISHED,
    DeliveryState.FAILED: WebhookEvent.POST_FAILED,
    DeliveryState.UNCONFIRMED: WebhookEvent.POST_UNCONFIRMED,
}


def post_link(base_url: str, post_id: str) -> str:
    return f"{base_url.rstrip('/')}/axon/posts/{post_id}"


def integration_link(base_url: str, integration_id: str) -> str:
    return f"{base_url.rstrip('/')}/integrations/list?integrationId={integration_id}"


def delivery_event(base_url: str, delivery: Delivery, *, event_id: str, at: datetime) -> Event | None:
    """The event of a delivery's final state; None while it is not final (or was cancelled)."""
    event_type = EVENT_FOR_STATE.get(delivery.state)
    if event_type is None:
        return None
    error = (
        {"code": delivery.error_code, "message": delivery.last_error}
        if delivery.state != DeliveryState.PUBLISHED and (delivery.error_code or delivery.last_error)
        else None
    )
    data = {
        "postId": delivery.post_id,
        "deliveryId": delivery.id,
        "integrationId": delivery.integration_id,
        "platform": delivery.platform.value,
        "state": delivery.state.value,
        "externalPostId": delivery.external_id,
        "url": delivery.url,
        "error": error,
        "link": post_link(base_url, delivery.post_id),
    }
    return Event(id=event_id, type=event_type, organization_id=delivery.organization_id, created_at=at, data=data)


def refresh_needed_event(base_url: str, integration: Integration, reason: str, *, event_id: str, at: datetime) -> Event:
    data = {
        "postId": None,
        "deliveryId": None,
        "integrationId": integration.id,
        "platform": integration.provider_identifier.value,
        "state": "refresh_needed",
        "externalPostId": None,
        "url": None,
        "error": {"code": "RefreshNeeded", "message": f"the channel needs reconnecting ({reason})"},
        "link": integration_link(base_url, integration.id),
    }
    return Event(
        id=event_id, type=WebhookEvent.INTEGRATION_REFRESH_NEEDED, organization_id=integration.organization_id,
        created_at=at, data=data,
    )  # fmt: skip


def ping_event(base_url: str, webhook: Webhook, *, event_id: str, at: datetime) -> Event:
    data = {"webhookId": webhook.id, "link": f"{base_url.rstrip('/')}/axon/webhooks/{webhook.id}"}
    return Event(id=event_id, type=WebhookEvent.PING, organization_id=webhook.organization_id, created_at=at, data=data)
