"""Posts (`/axon/posts`): create (fan-out to the Soul's channels), list, get with deliveries, edit, reschedule,
cancel, approve/reject, retry a delivery, publish now, analytics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import Field, StringConstraints, field_validator

from api.deps import AdminPrincipal, ContainerDep, CurrentPrincipal, PageDep
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel, JsonObject, PageOut, changes_of
from domain.publishing.posts import Delivery, DeliveryState, Media, Post, PostFilter
from domain.services.posts import PostInput, PostView

router = APIRouter(route_class=DirectRoute, prefix="/axon/posts", tags=["posts"])

Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
PostId = Annotated[str, Path(max_length=64)]
Content = Annotated[str, Field(max_length=100_000)]


class MediaIn(ApiInput):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
    kind: Literal["image", "video", "gif"] = "image"
    alt_text: Annotated[str, Field(max_length=1500)] | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("media url must be an http(s) URL the platform can fetch")
        return value

    def to_media(self) -> Media:
        return Media(url=self.url, kind=self.kind, alt_text=self.alt_text)


class PostIn(ApiInput):
    soul_id: Ref
    content: Content = ""
    media: Annotated[list[MediaIn], Field(max_length=35)] = []
    publish_date: datetime | None = Field(default=None, description="ISO 8601 with a timezone; omitted means now")
    integration_ids: Annotated[list[Ref], Field(max_length=500)] | None = None
    settings: JsonObject = {}
    requires_approval: bool = False


class PostPatch(ApiInput):
    not_null = ("content", "media", "settings")

    content: Content | None = None
    media: Annotated[list[MediaIn], Field(max_length=35)] | None = None
    settings: JsonObject | None = None


class RescheduleIn(ApiInput):
    publish_date: datetime


class DecisionIn(ApiInput):
    note: Annotated[str, Field(max_length=2000)] | None = None


class MediaOut(ApiModel):
    url: str
    kind: str
    alt_text: str | None = None


class DeliveryOut(ApiModel):
    id: str
    integration_id: str
    platform: str
    account_id: str | None
    state: DeliveryState
    publish_date: datetime
    attempts: int
    last_error: str | None
    error_code: str | None
    external_id: str | None
    url: str | None
    published_at: datetime | None
    hint: str | None = Field(default=None, description="What to check or do next, for UNCONFIRMED and FAILED")


class PostOut(ApiModel):
    id: str
    soul_id: str
    content: str
    media: list[MediaOut]
    settings: dict[str, Any]
    publish_date: datetime
    approval: str
    decided_by: str | None
    decision_note: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    state: str = Field(description="Summary of the deliveries: the least advanced state wins")
    deliveries: list[DeliveryOut]


_ORDER = [
    DeliveryState.PUBLISHING, DeliveryState.QUEUE, DeliveryState.UNCONFIRMED, DeliveryState.FAILED,
    DeliveryState.PUBLISHED, DeliveryState.CANCELLED,
]  # fmt: skip
_HINTS = {
    "Unconfirmed": "The platform may have published this post without confirming it: check the channel for it; "
    "retry looks it up on the platform first and never posts twice.",
    "AuthRevoked": "The channel's authorization was revoked: reconnect the channel, then retry.",
    "ChannelNotConnected": "The channel is disconnected or needs reconnecting: reconnect it, then retry.",
    "NoProxy": "Assign a proxy to the account (or allow direct publishing for the organization), then retry.",
    "ProxyFailed": "The account's proxy is failing: fix or replace it, then retry.",
    "Duplicate": "The platform refused the post as a duplicate: edit the content in a new post.",
    "InvalidContent": "The platform refused the content: change it in a new post.",
    "RateLimited": "The platform kept rate limiting: retry later.",
    "Transient": "The platform could not be reached: retry.",
    "RiskLimit": "The account is over its risk limits (daily post limit or cooldown): retry once the window the "
    "error names has opened, or change the account's limits.",
}


def _summary(deliveries: list[Delivery]) -> str:
    states = {d.state for d in deliveries}
    for state in _ORDER:
        if state in states:
            return state.value
    return DeliveryState.CANCELLED.value


def _delivery_out(delivery: Delivery) -> DeliveryOut:
    out = DeliveryOut.model_validate(delivery)
    if delivery.state in (DeliveryState.FAILED, DeliveryState.UNCONFIRMED):
        out.hint = _HINTS.get(delivery.error_code or "", "Retry, or check the error.")
    elif delivery.state == DeliveryState.QUEUE and delivery.error_code == "RiskLimitWait":
        out.hint = delivery.last_error  # waiting for the account's risk limits: until when, and why
    return out


def post_out(view: PostView) -> PostOut:
    post: Post = view.post
    return PostOut(
        id=post.id, soul_id=post.soul_id, content=post.content,
        media=[MediaOut.model_validate(m) for m in post.media], settings=post.settings,
        publish_date=post.publish_date, approval=post.approval.value, decided_by=post.decided_by,
        decision_note=post.decision_note, created_by=post.created_by, created_at=post.created_at,
        updated_at=post.updated_at, state=_summary(view.deliveries),
        deliveries=[_delivery_out(d) for d in view.deliveries],
    )  # fmt: skip


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_post(body: PostIn, principal: CurrentPrincipal, container: ContainerDep) -> PostOut:
    view = await container.posts.create(
        principal,
        PostInput(
            soul_id=body.soul_id,
            content=body.content,
            publish_date=body.publish_date,
            media=[m.to_media() for m in body.media],
            integration_ids=body.integration_ids,
            settings=body.settings,
            requires_approval=body.requires_approval,
        ),
    )
    return post_out(view)


@router.get("")
async def list_posts(
    principal: CurrentPrincipal,
    container: ContainerDep,
    page: PageDep,
    state: DeliveryState | None = None,
    soul_id: Annotated[str | None, Query(alias="soulId", max_length=64)] = None,
    integration_id: Annotated[str | None, Query(alias="integrationId", max_length=64)] = None,
    publish_from: Annotated[datetime | None, Query(alias="from")] = None,
    publish_to: Annotated[datetime | None, Query(alias="to")] = None,
) -> PageOut[PostOut]:
    filters = PostFilter(
        state=state, soul_id=soul_id, integration_id=integration_id, publish_from=publish_from, publish_to=publish_to
    )
    found = await container.posts.find(principal, filters, page)
    return PageOut(items=[post_out(v) for v in found.items], next_cursor=found.next_cursor)


@router.get("/{post_id}")
async def get_post(post_id: PostId, principal: CurrentPrincipal, container: ContainerDep) -> PostOut:
    return post_out(await container.posts.get(principal, post_id))


@router.patch("/{post_id}")
async def edit_post(post_id: PostId, body: PostPatch, principal: CurrentPrincipal, container: ContainerDep) -> PostOut:
    changes = changes_of(body)
    if "media" in changes and body.media is not None:
        changes["media"] = [m.to_media() for m in body.media]
    return post_out(await container.posts.edit(principal, post_id, changes))


@router.post("/{post_id}/reschedule")
async def reschedule_post(
    post_id: PostId, body: RescheduleIn, principal: CurrentPrincipal, container: ContainerDep
) -> PostOut:
    return post_out(await container.posts.reschedule(principal, post_id, body.publish_date))


@router.post("/{post_id}/publish-now")
async def publish_now(post_id: PostId, principal: CurrentPrincipal, container: ContainerDep) -> PostOut:
    return post_out(await container.posts.publish_now(principal, post_id))


@router.post("/{post_id}/cancel")
async def cancel_post(post_id: PostId, principal: CurrentPrincipal, container: ContainerDep) -> PostOut:
    return post_out(await container.posts.cancel(principal, post_id))


@router.post("/{post_id}/approve")
async def approve_post(
    post_id: PostId, principal: AdminPrincipal, container: ContainerDep, body: DecisionIn | None = None
) -> PostOut:
    note = body.note if body else None
    return post_out(await container.posts.decide(principal, post_id, approved=True, note=note))


@router.post("/{post_id}/reject")
async def reject_post(
    post_id: PostId, principal: AdminPrincipal, container: ContainerDep, body: DecisionIn | None = None
) -> PostOut:
    note = body.note if body else None
    return post_out(await container.posts.decide(principal, post_id, approved=False, note=note))


@router.post("/{post_id}/deliveries/{delivery_id}/retry")
async def retry_delivery(
    post_id: PostId,
    delivery_id: Annotated[str, Path(max_length=64)],
    principal: CurrentPrincipal,
    container: ContainerDep,
) -> PostOut:
    return post_out(await container.posts.retry(principal, post_id, delivery_id))


class DeliveryAnalytics(ApiModel):
    delivery_id: str
    integration_id: str
    platform: str
    state: DeliveryState
    url: str | None
    published_at: datetime | None
    metrics: dict[str, Any] = Field(description="Readings by offset after publishing (1h, 24h, 168h, ...)")
    latest: dict[str, Any] | None


class PostAnalytics(ApiModel):
    post_id: str
    deliveries: list[DeliveryAnalytics]
    totals: dict[str, int] = Field(description="Latest readings summed over the deliveries")


@router.get("/{post_id}/analytics")
async def post_analytics(post_id: PostId, principal: CurrentPrincipal, container: ContainerDep) -> PostAnalytics:
    view = await container.posts.get(principal, post_id)
    out: list[DeliveryAnalytics] = []
    totals: dict[str, int] = {}
    for d in view.deliveries:
        latest = None
        if d.metrics:
            latest = max(d.metrics.values(), key=lambda reading: str(reading.get("collectedAt", "")))
            for name, value in latest.items():
                if isinstance(value, int):
                    totals[name] = totals.get(name, 0) + value
        out.append(DeliveryAnalytics(
            delivery_id=d.id, integration_id=d.integration_id, platform=d.platform.value, state=d.state, url=d.url,
            published_at=d.published_at, metrics=d.metrics, latest=latest,
        ))  # fmt: skip
    return PostAnalytics(post_id=view.post.id, deliveries=out, totals=totals)
