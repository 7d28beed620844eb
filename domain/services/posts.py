"""Posts: create (fan-out to the Soul's channels, one Delivery each), read, edit before publishing, reschedule,
cancel, approve or reject, retry a failed delivery, publish now, analytics.

The database holds what a user sees; each delivery's PostWorkflow holds the timer. A change of time goes to the
workflow first (its update validator is the authority on "too late"), then to the record. Starting workflows happens
after the post is committed: a Temporal outage leaves deliveries unscheduled, never lost; the reconciler starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.auth import Principal
from domain.channels.integrations import Integration
from domain.errors import Conflict, DomainError, InvalidInput, NotFound
from domain.identity.accounts import Account, AccountStatus
from domain.identity.platforms import Platform
from domain.identity.souls import ensure_accepts_work
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.publishing.limits import violations
from domain.publishing.posts import Approval, Delivery, DeliveryState, Media, Post, PostFilter
from domain.publishing.publisher import MediaItem
from domain.publishing.workflows import PostWorkflows, WorkflowGone
from domain.services import audit
from domain.services.identity.souls import IdentityContext

# How long a retry waits for the previous run of the delivery's workflow to finish its last step.
_FINISHING_WAIT_S = 10.0
# Workflow starts in flight at once for one post's fan-out (each is one request to Temporal).
_CONCURRENT_STARTS = 16
log = logging.getLogger(__name__)

# A publish date this far in the past still counts as "now" (clock skew between the browser and the server).
PAST_TOLERANCE = timedelta(seconds=60)


@dataclass(frozen=True)
class PostInput:
    soul_id: str
    content: str
    publish_date: datetime | None = None
    media: list[Media] = field(default_factory=list)
    integration_ids: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    requires_approval: bool = False


@dataclass
class PostView:
    post: Post
    deliveries: list[Delivery]


def _media_items(media: list[Media]) -> list[MediaItem]:
    return [MediaItem(url=m.url, kind=m.kind, alt_text=m.alt_text) for m in media]  # type: ignore[arg-type]


def check_content(platforms: set[Platform], content: str, media: list[Media]) -> None:
    """422 naming the platform and the rule for every limit the content breaks on any target platform."""
    found = [v for p in sorted(platforms) for v in violations(p, content, _media_items(media))]
    if found:
        raise InvalidInput(
            "; ".join(v.message for v in found),
            field="content",
            code="content_invalid",
            violations=[{"platform": v.platform.value, "rule": v.rule, "message": v.message} for v in found],
        )


class PostService:
    def __init__(self, ctx: IdentityContext, workflows: PostWorkflows) -> None:
        self._ctx = ctx
        self._workflows = workflows

    # --- create ------------------------------------------------------------------------------------------------

    async def create(self, principal: Principal, data: PostInput) -> PostView:
        org = principal.organization_id
        now = self._ctx.clock.now()
        publish_date = self._future(data.publish_date, now)
        soul = await self._ctx.store.souls.get(org, data.soul_id)
        if soul is None:
            raise InvalidInput(f"Soul {data.soul_id!r} does not exist.", field="soulId", code="soul_not_found")
        ensure_accepts_work(soul)
        targets = await self._targets(org, data.soul_id, data.integration_ids)
        check_content({i.provider_identifier for i, _ in targets}, data.content, data.media)
        post = Post(
            id=new_id(), organization_id=org, soul_id=data.soul_id, content=data.content, media=data.media,
            settings=data.settings, publish_date=publish_date,
            approval=Approval.PENDING if data.requires_approval else Approval.NOT_REQUIRED,
            created_by=principal.actor_id, created_at=now, updated_at=now,
        )  # fmt: skip
        deliveries = [
            Delivery(
                id=new_id(),
                organization_id=org,
                post_id=post.id,
                soul_id=post.soul_id,
                integration_id=i.id,
                platform=i.provider_identifier,
                account_id=account_id,
                publish_date=publish_date,
                created_at=now,
                updated_at=now,
            )
            for i, account_id in targets
        ]
        async with self._ctx.uows() as uow:
            await uow.posts.add(post)
            for delivery in deliveries:
                await uow.deliveries.add(delivery)
            await audit.record(
                uow, organization_id=org, actor=principal, action="post.create", target_type="post",
                target_id=post.id, details={"integrationIds": [d.integration_id for d in deliveries]},
            )  # fmt: skip
            await uow.commit()
        await self.schedule(deliveries, requires_approval=data.requires_approval)
        return PostView(post, deliveries)

    async def schedule(self, deliveries: list[Delivery], *, requires_approval: bool) -> list[str]:
        """Start each delivery's workflow and note which started; the others wait for the reconciler."""
        gate = asyncio.Semaphore(_CONCURRENT_STARTS)

        async def start(delivery: Delivery) -> str | None:
            async with gate:
                try:
                    await self._workflows.start(delivery, requires_approval=requires_approval)
                except Exception:  # Temporal unreachable: the post is saved; the reconciler starts it later
                    log.warning("could not start the workflow of delivery %s; the reconciler will", delivery.id)
                    return None
            return delivery.id

        # A post fanned out to many channels starts its workflows side by side: one round trip, not one per channel.
        started = [i for i in await asyncio.gather(*(start(d) for d in deliveries)) if i is not None]
        if started:
            async with self._ctx.uows() as uow:
                await uow.deliveries.mark_scheduled(started)
                await uow.commit()
            for delivery in deliveries:
                delivery.scheduled = delivery.id in started
        return started

    async def _targets(
        self, org: str, soul_id: str, integration_ids: list[str] | None
    ) -> list[tuple[Integration, str | None]]:
        """The channels to publish to, each with the account that publishes. Without explicit ids: every channel
        mapped to the soul that is connected and whose account is active."""
        async with self._ctx.uows.reading() as uow:
            mappings = {m.integration_id: m for m in await uow.mappings.for_souls(org, [soul_id])}
            integrations = {i.id: i for i in await uow.integrations.find(org)}
        out: list[tuple[Integration, str | None]] = []
        if integration_ids is None:
            for integration_id in mappings:
                integration = integrations.get(integration_id)
                if integration is None or integration.disabled or integration.refresh_needed:
                    continue
                account = await self._account(org, integration)
                if account is not None and account[1] == AccountStatus.ACTIVE:
                    out.append((integration, account[0]))
            if not out:
                raise InvalidInput(
                    "The soul has no active channel: map a connected channel with an active account, or name "
                    "integrationIds.",
                    field="integrationIds",
                    code="no_active_channel",
                )
            return out
        if not integration_ids:
            raise InvalidInput("Name at least one integration.", field="integrationIds", code="no_channel")
        for integration_id in dict.fromkeys(integration_ids):
            integration = integrations.get(integration_id)
            if integration is None:
                raise InvalidInput(
                    f"Integration {integration_id!r} does not exist.", field="integrationIds",
                    code="integration_not_found",
                )  # fmt: skip
            if integration_id not in mappings:
                raise InvalidInput(
                    f"Integration {integration_id!r} is not mapped to this soul.", field="integrationIds",
                    code="integration_not_mapped",
                )  # fmt: skip
            if integration.disabled or integration.refresh_needed:
                raise InvalidInput(
                    f"Integration {integration_id!r} is {integration.status.replace('_', ' ')}: reconnect it first.",
                    field="integrationIds", code="integration_not_connected",
                )  # fmt: skip
            account = await self._account(org, integration)
            out.append((integration, account[0] if account else mappings[integration_id].account_id))
        return out

    async def _account(self, org: str, integration: Integration) -> tuple[str, AccountStatus] | None:
        linked = await self._ctx.store.accounts.linked_to(org, integration.id)
        return (linked.id, linked.status) if linked is not None else None

    def _future(self, publish_date: datetime | None, now: datetime) -> datetime:
        if publish_date is None:
            return now
        if publish_date.tzinfo is None:
            raise InvalidInput("publishDate needs a timezone.", field="publishDate", code="publish_date_naive")
        if publish_date < now - PAST_TOLERANCE:
            raise InvalidInput("publishDate is in the past.", field="publishDate", code="publish_date_in_past")
        return max(publish_date, now)

    # --- read --------------------------------------------------------------------------------------------------

    async def get(self, principal: Principal, post_id: str) -> PostView:
        async with self._ctx.uows.reading() as uow:
            post = await uow.posts.get(principal.organization_id, post_id)
            if post is None:
                raise NotFound("Post", post_id)
            deliveries = await uow.deliveries.for_posts(principal.organization_id, [post_id])
        return PostView(post, deliveries)

    async def find(self, principal: Principal, filters: PostFilter, page: PageRequest) -> Page[PostView]:
        org = principal.organization_id
        async with self._ctx.uows.reading() as uow:
            posts = await uow.posts.list(org, filters, page)
            deliveries = await uow.deliveries.for_posts(org, [p.id for p in posts.items])
        by_post: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_post.setdefault(delivery.post_id, []).append(delivery)
        return Page([PostView(p, by_post.get(p.id, [])) for p in posts.items], posts.next_cursor)

    # --- change ------------------------------------------------------------------------------------------------

    async def edit(self, principal: Principal, post_id: str, changes: dict[str, Any]) -> PostView:
        """Content, media and settings can change until a delivery starts publishing."""
        org = principal.organization_id
        async with self._ctx.uows() as uow:
            post = await uow.posts.get(org, post_id, lock=True)
            if post is None:
                raise NotFound("Post", post_id)
            deliveries = await uow.deliveries.for_posts(org, [post_id], lock=True)
            live = [d for d in deliveries if d.state != DeliveryState.CANCELLED]
            if not live or any(d.state != DeliveryState.QUEUE for d in live):
                raise Conflict(
                    "The post can no longer be edited: a delivery has started publishing or is finished.",
                    code="post_not_editable",
                )
            changed = post.model_copy(update={**changes, "updated_at": self._ctx.clock.now()})
            check_content({d.platform for d in live}, changed.content, changed.media)
            await uow.posts.update(changed)
            await audit.record(
                uow, organization_id=org, actor=principal, action="post.edit", target_type="post", target_id=post_id,
                details={"fields": sorted(changes)},
            )  # fmt: skip
            await uow.commit()
        return PostView(changed, deliveries)

    async def reschedule(self, principal: Principal, post_id: str, publish_date: datetime) -> PostView:
        now = self._ctx.clock.now()
        if publish_date.tzinfo is None:
            raise InvalidInput("publishDate needs a timezone.", field="publishDate", code="publish_date_naive")
        if publish_date <= now:
            raise InvalidInput("publishDate is in the past.", field="publishDate", code="publish_date_in_past")
        view = await self.get(principal, post_id)
        waiting = self._waiting(view, "rescheduled")
        moved: list[Delivery] = []
        for delivery in waiting:
            # Not started yet: the new date in the record is what its workflow will read.
            with contextlib.suppress(WorkflowGone):
                await self._workflows.reschedule(delivery, publish_date)
            moved.append(delivery)
        return await self._save_dates(principal, view.post, moved, publish_date, "post.reschedule")

    async def publish_now(self, principal: Principal, post_id: str) -> PostView:
        view = await self.get(principal, post_id)
        waiting = self._waiting(view, "published now")
        for delivery in waiting:
            with contextlib.suppress(WorkflowGone):
                await self._workflows.publish_now(delivery)
        return await self._save_dates(principal, view.post, waiting, self._ctx.clock.now(), "post.publish_now")

    async def cancel(self, principal: Principal, post_id: str) -> PostView:
        view = await self.get(principal, post_id)
        waiting = self._waiting(view, "cancelled")
        for delivery in waiting:
            with contextlib.suppress(WorkflowGone):
                await self._workflows.cancel(delivery)
        now = self._ctx.clock.now()
        async with self._ctx.uows() as uow:
            # Locked, so a claim racing this waits and then finds the delivery cancelled (a claim that came first
            # has moved it out of QUEUE, and it stays as the workflow reports it).
            waiting_ids = {d.id for d in waiting}
            for current in await uow.deliveries.for_posts(principal.organization_id, [post_id], lock=True):
                if current.id in waiting_ids and current.state == DeliveryState.QUEUE:
                    await uow.deliveries.update(
                        current.model_copy(update={"state": DeliveryState.CANCELLED, "updated_at": now})
                    )
            await audit.record(
                uow, organization_id=principal.organization_id, actor=principal, action="post.cancel",
                target_type="post", target_id=post_id,
            )  # fmt: skip
            await uow.commit()
        return await self.get(principal, post_id)

    async def decide(self, principal: Principal, post_id: str, *, approved: bool, note: str | None) -> PostView:
        org = principal.organization_id
        async with self._ctx.uows() as uow:
            # Locked: of two decisions at once, the second finds the first's and is refused.
            post = await uow.posts.get(org, post_id, lock=True)
            if post is None:
                raise NotFound("Post", post_id)
            if post.approval != Approval.PENDING:
                raise Conflict(f"The post is not waiting for approval ({post.approval.value}).", code="not_pending")
            decided = post.model_copy(update={
                "approval": Approval.APPROVED if approved else Approval.REJECTED, "decided_by": principal.actor_id,
                "decision_note": note, "updated_at": self._ctx.clock.now(),
            })  # fmt: skip
            await uow.posts.update(decided)
            await audit.record(
                uow, organization_id=org, actor=principal, action="post.approve" if approved else "post.reject",
                target_type="post", target_id=post_id, details={"note": note} if note else None,
            )  # fmt: skip
            deliveries = await uow.deliveries.for_posts(org, [post_id], lock=True)  # a claim waits for this
            if not approved:
                for d in deliveries:
                    if d.state == DeliveryState.QUEUE:
                        await uow.deliveries.update(d.model_copy(update={
                            "state": DeliveryState.CANCELLED, "last_error": "rejected",
                            "updated_at": self._ctx.clock.now(),
                        }))  # fmt: skip
            await uow.commit()
        for delivery in deliveries:
            if delivery.state == DeliveryState.QUEUE:
                # Not started yet (it reads the decision when it starts) or already past waiting.
                with contextlib.suppress(WorkflowGone, Conflict):
                    await self._workflows.decide(delivery, approved=approved)
        return await self.get(principal, post_id)

    async def retry(self, principal: Principal, post_id: str, delivery_id: str) -> PostView:
        """Publish a FAILED or UNCONFIRMED delivery again, now. Its journal and first attempt time are kept, so the
        new run looks the post up on the platform before publishing (an UNCONFIRMED one may exist already)."""
        org = principal.organization_id
        async with self._ctx.uows.reading() as uow:
            found = await uow.deliveries.get(org, delivery_id)
        if found is None or found.post_id != post_id:
            raise NotFound("Delivery", delivery_id)
        _ensure_retryable(found)
        # The run that recorded the failure may still be telling webhooks; a start now would join it, not begin anew.
        if not await self._workflows.wait_closed(found, within_s=_FINISHING_WAIT_S):
            raise Conflict(
                "The previous attempt is still finishing (notifying webhooks); retry in a minute.",
                code="delivery_still_finishing",
            )
        async with self._ctx.uows() as uow:
            delivery = await uow.deliveries.get(org, delivery_id)
            if delivery is None:
                raise NotFound("Delivery", delivery_id)
            _ensure_retryable(delivery)
            now = self._ctx.clock.now()
            retried = delivery.model_copy(update={
                "state": DeliveryState.QUEUE, "publish_date": now, "last_error": None, "error_code": None,
                "scheduled": False, "updated_at": now,
            })  # fmt: skip
            await uow.deliveries.update(retried)
            await audit.record(
                uow, organization_id=org, actor=principal, action="delivery.retry", target_type="delivery",
                target_id=delivery_id, details={"postId": post_id},
            )  # fmt: skip
            await uow.commit()
        await self.schedule([retried], requires_approval=False)
        return await self.get(principal, post_id)

    # --- helpers -----------------------------------------------------------------------------------------------

    def _waiting(self, view: PostView, verb: str) -> list[Delivery]:
        waiting = [d for d in view.deliveries if d.state == DeliveryState.QUEUE]
        if not waiting:
            raise Conflict(f"No delivery of this post is waiting to publish, so it cannot be {verb}.",
                           code="post_not_waiting")  # fmt: skip
        return waiting

    async def limits_loosened(self, account: Account) -> None:
        """The account may post sooner (domain.identity.risk.loosened): its deliveries waiting for their window try
        again now, instead of at the time the old limits gave. Best effort: one that cannot be told still resumes
        then, so a failure here is logged, never the request's."""
        async with self._ctx.uows.reading() as uow:
            waiting = await uow.deliveries.waiting_for_window(account.organization_id, account.id)
        for delivery in waiting:
            try:
                await self._workflows.recheck(delivery)
            except (WorkflowGone, DomainError):
                pass  # finished, or no longer waiting, meanwhile
            except Exception:
                log.warning("could not wake delivery %s after its account's limits changed", delivery.id, exc_info=True)

    async def _save_dates(
        self, principal: Principal, post: Post, deliveries: list[Delivery], publish_date: datetime, action: str
    ) -> PostView:
        org = principal.organization_id
        now = self._ctx.clock.now()
        async with self._ctx.uows() as uow:
            current = await uow.posts.get(org, post.id, lock=True)  # an edit meanwhile is kept, not overwritten
            if current is not None:
                await uow.posts.update(current.model_copy(update={"publish_date": publish_date, "updated_at": now}))
            for delivery in deliveries:
                # Not a read and a full-row write: the workflow was told first and may be publishing already.
                await uow.deliveries.move_waiting(delivery.id, publish_date, now)
            await audit.record(
                uow, organization_id=org, actor=principal, action=action, target_type="post", target_id=post.id,
                details={"publishDate": publish_date.isoformat()},
            )  # fmt: skip
            await uow.commit()
        return await self.get(principal, post.id)


def _ensure_retryable(delivery: Delivery) -> None:
    if delivery.state not in (DeliveryState.FAILED, DeliveryState.UNCONFIRMED):
        raise Conflict(
            f"Only a failed or unconfirmed delivery can be retried; this one is {delivery.state.value}.",
            code="delivery_not_retryable",
        )
