"""Webhooks (`/axon/webhooks`): the organization's endpoints told of published, failed and unconfirmed deliveries and
of channels that need reconnecting. Owners and admins manage them; members may look. The signing secret is in the
answer to creation and to rotation, and nowhere else."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import Field, StringConstraints

from api.deps import AdminPrincipal, ClientIp, ContainerDep, CurrentPrincipal, PageDep
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel, PageOut, changes_of
from domain.notifications.webhooks import Webhook, WebhookDelivery, WebhookDeliveryStatus, WebhookEvent
from domain.services.webhooks import MAX_URL_LENGTH, WebhookInput

router = APIRouter(route_class=DirectRoute, prefix="/axon/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(max_length=64)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL_LENGTH)]
Description = Annotated[str, Field(max_length=500)]
Events = Annotated[
    list[WebhookEvent],
    Field(min_length=1, max_length=10, description="post.published, post.failed, post.unconfirmed, "
          "integration.refresh_needed; omitted on creation: all of them"),
]  # fmt: skip


class WebhookIn(ApiInput):
    url: Url = Field(description="Where events are POSTed: an http(s) URL")
    events: Events | None = None
    description: Description | None = None


class WebhookPatch(ApiInput):
    not_null = ("url", "events", "enabled")

    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = None
    description: Description | None = None


class WebhookOut(ApiModel):
    id: str
    url: str
    description: str | None
    events: list[WebhookEvent]
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls.model_validate(webhook.model_dump(exclude={"secret", "organization_id"}))


class WebhookWithSecretOut(WebhookOut):
    secret: str = Field(
        description='Signs every request (X-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">). '
        "Shown once: store it now."
    )


class WebhookDeliveryOut(ApiModel):
    id: str = Field(description="Sent as X-Webhook-Id, the same on every retry")
    webhook_id: str
    event_id: str
    event_type: WebhookEvent
    status: WebhookDeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    redelivery_of: str | None
    created_at: datetime
    payload: dict[str, Any] = Field(description="The body as sent")

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryOut:
        return cls.model_validate(delivery.model_dump(exclude={"organization_id", "updated_at"}))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(
    body: WebhookIn, principal: AdminPrincipal, container: ContainerDep, ip: ClientIp
) -> WebhookWithSecretOut:
    data = WebhookInput(url=body.url, events=body.events, description=body.description)
    webhook, secret = await container.webhooks.create(principal, data, ip=ip)
    return WebhookWithSecretOut(**WebhookOut.of(webhook).model_dump(), secret=secret)


@router.get("")
async def list_webhooks(principal: CurrentPrincipal, container: ContainerDep, page: PageDep) -> PageOut[WebhookOut]:
    result = await container.webhooks.list(principal, page)
    return PageOut(items=[WebhookOut.of(w) for w in result.items], next_cursor=result.next_cursor)


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: WebhookId, principal: CurrentPrincipal, container: ContainerDep) -> WebhookOut:
    return WebhookOut.of(await container.webhooks.get(principal, webhook_id))


@router.patch("/{webhook_id}")
async def update_webhook(
    webhook_id: WebhookId, body: WebhookPatch, principal: AdminPrincipal, container: ContainerDep, ip: ClientIp
) -> WebhookOut:
    changes = changes_of(body)
    return WebhookOut.of(await container.webhooks.update(principal, webhook_id, changes, ip=ip))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(
    webhook_id: WebhookId, principal: AdminPrincipal, container: ContainerDep, ip: ClientIp
) -> None:
    await container.webhooks.delete(principal, webhook_id, ip=ip)


@router.post("/{webhook_id}/rotate-secret")
async def rotate_secret(
    webhook_id: WebhookId, principal: AdminPrincipal, container: ContainerDep, ip: ClientIp
) -> WebhookWithSecretOut:
    webhook, secret = await container.webhooks.rotate_secret(principal, webhook_id, ip=ip)
    return WebhookWithSecretOut(**WebhookOut.of(webhook).model_dump(), secret=secret)


@router.post("/{webhook_id}/test", status_code=status.HTTP_202_ACCEPTED)
async def test_webhook(webhook_id: WebhookId, principal: AdminPrincipal, container: ContainerDep) -> WebhookDeliveryOut:
    """Send a `ping` event, durably and signed like any other; follow it in the deliveries."""
    return WebhookDeliveryOut.of(await container.webhooks.test(principal, webhook_id))


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: WebhookId, principal: CurrentPrincipal, container: ContainerDep, page: PageDep
) -> PageOut[WebhookDeliveryOut]:
    """Newest first."""
    result = await container.webhooks.deliveries(principal, webhook_id, page)
    return PageOut(items=[WebhookDeliveryOut.of(d) for d in result.items], next_cursor=result.next_cursor)


@router.post("/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED)
async def redeliver(
    delivery_id: Annotated[str, Path(max_length=64)], principal: AdminPrincipal, container: ContainerDep
) -> WebhookDeliveryOut:
    """Send a delivered or failed event again, as a new delivery (new X-Webhook-Id, same event id)."""
    return WebhookDeliveryOut.of(await container.webhooks.redeliver(principal, delivery_id))
