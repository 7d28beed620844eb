"""Publishing activities: read a delivery's plan, publish it exactly once through the Account's proxy, record the
outcome, ask the channel's refresh loop for a fresh token, collect metrics.

Inputs and results carry ids, times and outcomes only; the activities load tokens and proxy passwords themselves, so
no secret enters workflow history. Exactly once: the delivery is claimed (attempt counted, time of the first attempt
kept) before any platform call; every attempt after the first looks the post up before publishing again; an unknown
outcome is raised as `Unconfirmed` (retried: the retry looks first) and never blindly re-posted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    ChannelWorkflows,
    ConnectorError,
    Duplicate,
    InvalidContent,
    InvalidRequest,
    ProxySpec,
    RateLimited,
    Unconfirmed,
)
from domain.channels.integrations import Integration, integration_record
from domain.clock import Clock
from domain.identity.accounts import Account
from domain.identity.platforms import Platform
from domain.identity.ports import DocumentStore
from domain.identity.proxies import failed_reason, proxy_record
from domain.identity.risk import (
    ALLOWED,
    OverLimitPolicy,
    RiskVerdict,
    day_window,
    needs_count,
    risk_check,
    zone,
)
from domain.notifications.webhooks import WebhookEvent
from domain.organizations import Organization
from domain.ports import FieldSealer, UnitOfWork, UnitOfWorkFactory
from domain.publishing.posts import RISK_LIMIT_WAIT, Approval, Delivery, DeliveryState, Post
from domain.publishing.publisher import (
    MediaItem,
    OutgoingPost,
    PlatformPublisher,
    PublishedPost,
    PublishingChannel,
)
from domain.services.identity.risk_flags import RiskFlags
from domain.services.refresh_needed import RefreshNeeded, RefreshNeededHook
from domain.services.webhooks import WebhookNotifier

log = logging.getLogger(__name__)

# Error types the workflow must not retry (ApplicationError.type): a person has to act first.
FINAL_ERRORS = (
    "AuthExpired",  # not final: the workflow asks for a refresh, then publishes again
    "AuthRevoked",
    "Duplicate",
    "InvalidContent",
    "InvalidRequest",
    "NoProxy",
    "ProxyFailed",
    "ChannelNotConnected",
    "RiskLimit",
)


class DeliveryRef(BaseModel):
    organization_id: str
    delivery_id: str


class DeliveryPlan(BaseModel):
    state: DeliveryState
    publish_date: datetime
    approval: Approval
    platform: str


class PublishOutcome(BaseModel):
    state: DeliveryState
    external_id: str | None = None
    url: str | None = None
    found_existing: bool = False
    # QUEUE: the account is over its risk limits and the organization waits; publish again at `wait_until`.
    wait_until: datetime | None = None
    reason: str | None = None
    # Whether any webhook of the organization wants to hear of it: spares the workflow an activity when none does.
    # True when absent, as in histories written before the field existed (the workflow then asked every time).
    notify: bool = True


class MarkRequest(BaseModel):
    organization_id: str
    delivery_id: str
    state: DeliveryState
    error_code: str | None = None
    message: str | None = None


class RefreshResult(BaseModel):
    refreshed: bool


class MetricsRequest(BaseModel):
    organization_id: str
    delivery_id: str
    label: str


class DbJournal:
    """PublishJournal over the delivery row: a recorded note is committed before the adapter takes its next step; a
    remembered one is written with the outcome (`unsaved`), saving a transaction on every publish."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, delivery: Delivery) -> None:
        self._uows = uows
        self._clock = clock
        self._delivery_id = delivery.id
        self.values = dict(delivery.journal)
        self.unsaved = False

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def record(self, key: str, value: str) -> None:
        self.values[key] = value
        async with self._uows() as uow:
            await uow.deliveries.record_journal(self._delivery_id, self.values, self._clock.now())
            await uow.commit()
        self.unsaved = False

    def remember(self, key: str, value: str) -> None:
        self.values[key] = value
        self.unsaved = True


def _final(error_type: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=error_type, non_retryable=error_type in FINAL_ERRORS)


class PublishingActivities:
    def __init__(
        self,
        store: DocumentStore,
        uows: UnitOfWorkFactory,
        sealer: FieldSealer,
        publishers: Mapping[Platform, PlatformPublisher],
        clock: Clock,
        channel_workflows: Callable[[], ChannelWorkflows] | None = None,
        heartbeat_every_s: float = 2.0,
        webhooks: WebhookNotifier | None = None,
        rate_limit_cooldown_s: float = 900.0,
        spam_cooldown_s: float = 86400.0,
        on_refresh_needed: RefreshNeededHook | None = None,
    ) -> None:
        self._store = store
        self._uows = uows
        self._sealer = sealer
        self._publishers = publishers
        self._clock = clock
        self._channel_workflows = channel_workflows
        self._heartbeat_every_s = heartbeat_every_s
        self._risk_flags = RiskFlags(store, uows, clock, rate_limit_cooldown_s, spam_cooldown_s)
        self._refresh_needed = RefreshNeeded(uows, clock, webhooks, on_refresh_needed)

    # --- plan ----------------------------------------------------------------------------------------------------

    @activity.defn(name="post_plan")
    async def plan(self, ref: DeliveryRef) -> DeliveryPlan | None:
        async with self._uows.reading() as uow:
            delivery = await uow.deliveries.get(ref.organization_id, ref.delivery_id)
            post = await uow.posts.get(ref.organization_id, delivery.post_id) if delivery else None
        if delivery is None or post is None:
            return None
        return DeliveryPlan(
            state=delivery.state, publish_date=delivery.publish_date, approval=post.approval,
            platform=delivery.platform.value,
        )  # fmt: skip

    # --- publish -------------------------------------------------------------------------------------------------

    @activity.defn(name="post_publish")
    async def publish(self, ref: DeliveryRef) -> PublishOutcome:
        async with self._heartbeats():
            return await self._publish(ref)

    async def _publish(self, ref: DeliveryRef) -> PublishOutcome:
        org = ref.organization_id
        # The claim is the whole write transaction (SQLite serializes writers: keep it one statement long).
        async with self._uows() as uow:
            now = self._clock.now()
            delivery = await uow.deliveries.claim(ref.delivery_id, now)
            await uow.commit()
        async with self._uows.reading() as uow:
            if delivery is None or delivery.organization_id != org:
                current = await uow.deliveries.get(org, ref.delivery_id)
                if current is None:
                    raise _final("InvalidRequest", f"delivery {ref.delivery_id} no longer exists")
                # Published, cancelled or failed meanwhile: report what it is.
                return PublishOutcome(state=current.state, external_id=current.external_id, url=current.url)
            # Read the post after the claim: an edit that held the delivery row has committed by now, and a later
            # edit finds the delivery PUBLISHING and is refused.
            post = await uow.posts.get(org, delivery.post_id)
            integration = await uow.integrations.get(org, delivery.integration_id)
            organization = await uow.organizations.get(org)
            notify = any(h.wants(WebhookEvent.POST_PUBLISHED) for h in await uow.webhooks.enabled(org))
            account = await self._account(delivery)
            verdict = await self._risk(uow, delivery, account, now)
        if not verdict.allowed:
            return await self._over_limit(delivery, organization, verdict)
        if post is None:
            raise _final("InvalidRequest", "the post no longer exists")
        if integration is None or integration.disabled or integration.refresh_needed:
            raise _final("ChannelNotConnected", "the channel is disconnected or needs reconnecting")
        publisher = self._publishers.get(delivery.platform)
        if publisher is None:
            raise _final("InvalidRequest", f"no publisher for {delivery.platform.value}")
        allow_direct = bool(organization and organization.allow_direct_publishing)
        proxy = await self._proxy(delivery, account, allow_direct=allow_direct)
        channel = self._channel(integration)
        outgoing = _outgoing(post, delivery)
        journal = DbJournal(self._uows, self._clock, delivery)
        try:
            # Not the first attempt, or a step already noted: the platform may hold the post. Look before posting.
            # (The claim counted this attempt: more than one means an earlier one may have reached the platform.)
            if delivery.attempts > 1 or delivery.journal:
                existing = await publisher.find_published(channel, outgoing, journal, proxy=proxy)
                if existing is not None:
                    return await self._published(delivery, existing, journal, found_existing=True, notify=notify)
            published = await publisher.publish(channel, outgoing, journal, proxy=proxy)
        except ConnectorError as exc:
            # A rate-limit or spam answer: the account gets a warning and a cooldown (audited).
            flagged = {"deliveryId": delivery.id}
            await self._risk_flags.flagged(delivery.organization_id, delivery.account_id, exc, flagged)
            raise self._error(exc) from None
        return await self._published(delivery, published, journal, found_existing=False, notify=notify)

    def _error(self, exc: ConnectorError) -> ApplicationError:
        message = str(exc)
        if isinstance(exc, RateLimited):
            delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
            return ApplicationError(message, type="RateLimited", next_retry_delay=delay)
        for kind in (AuthExpired, AuthRevoked, Duplicate, InvalidContent, InvalidRequest, Unconfirmed):
            if isinstance(exc, kind):
                return _final(kind.__name__, message)
        return ApplicationError(message, type="Transient")  # network, proxy hiccup, 5xx: back off and retry

    # --- risk limits (domain/identity/risk.py) ---------------------------------------------------------------------

    async def _risk(self, uow: UnitOfWork, delivery: Delivery, account: Account | None, now: datetime) -> RiskVerdict:
        """The account's limits, right after the claim: one count, and only for an account with a daily limit."""
        cooling = account is not None and account.cooldown_until is not None and account.cooldown_until > now
        if account is None or not (cooling or needs_count(account)):
            return ALLOWED
        tz = await self._timezone(account)
        published = 0
        if needs_count(account) and not cooling:
            since, _ = day_window(now, tz)
            published = await uow.deliveries.count_for_limit(account.organization_id, account.id, since, delivery)
        return risk_check(account, published, now, tz)

    async def _timezone(self, account: Account) -> tzinfo:
        """The limit's day is the one of the Persona of the account's soul; UTC without one."""
        soul = await self._store.souls.get(account.organization_id, account.soul_id)
        if soul is None or not soul.persona_id:
            return UTC
        persona = await self._store.personas.get(account.organization_id, soul.persona_id)
        return zone(persona.timezone if persona else None)

    async def _over_limit(
        self, delivery: Delivery, organization: Organization | None, verdict: RiskVerdict
    ) -> PublishOutcome:
        """Not now: the claim is undone (no attempt was made). By the organization's policy the delivery fails with
        the reason, or goes back to the QUEUE saying until when, for the workflow to wait."""
        policy = organization.over_limit_policy if organization else OverLimitPolicy.WAIT
        fail = policy == OverLimitPolicy.FAIL
        reason = verdict.reason or "the account is over its risk limits"
        # Failing, the workflow records FAILED (as for any final error); waiting, the QUEUE says until when.
        code, message = ("RiskLimit", reason) if fail else (RISK_LIMIT_WAIT, verdict.waiting_hint)
        async with self._uows() as uow:
            await uow.deliveries.release(delivery.id, DeliveryState.QUEUE, code, message, self._clock.now())
            await uow.commit()
        if fail:
            raise _final("RiskLimit", reason)
        activity.logger.info("delivery %s waits until %s: %s", delivery.id, verdict.until, reason)
        return PublishOutcome(state=DeliveryState.QUEUE, wait_until=verdict.until, reason=verdict.waiting_hint)

    async def _published(
        self, delivery: Delivery, published: PublishedPost, journal: DbJournal, *, found_existing: bool, notify: bool
    ) -> PublishOutcome:
        notes = journal.values if journal.unsaved else None
        async with self._uows() as uow:
            await uow.deliveries.mark_published(
                delivery.id, published.external_id, published.url, self._clock.now(), journal=notes
            )
            await uow.commit()
        activity.logger.info("delivery %s published as %s", delivery.id, published.external_id)
        return PublishOutcome(
            state=DeliveryState.PUBLISHED, external_id=published.external_id, url=published.url,
            found_existing=found_existing, notify=notify,
        )  # fmt: skip

    async def _account(self, delivery: Delivery) -> Account | None:
        if not delivery.account_id:
            return None
        return await self._store.accounts.get(delivery.organization_id, delivery.account_id)

    async def _proxy(self, delivery: Delivery, account: Account | None, *, allow_direct: bool) -> ProxySpec | None:
        if account is None or not account.proxy_id:
            if allow_direct:
                return None
            raise _final(
                "NoProxy",
                "the account has no proxy assigned and the organization does not allow publishing without one",
            )
        proxy = await self._store.proxies.get(delivery.organization_id, account.proxy_id)
        if proxy is None:
            raise _final("NoProxy", "the account's proxy no longer exists")
        if (failed := failed_reason(proxy)) is not None:
            raise _final("ProxyFailed", failed)
        password = (
            self._sealer.decrypt_str(proxy.password, record=proxy_record(proxy.id), field="credentials.password")
            if proxy.password
            else None
        )
        return ProxySpec(proxy.protocol.value, proxy.host, proxy.port, proxy.username, password)

    def _channel(self, integration: Integration) -> PublishingChannel:
        if integration.token is None:
            raise _final("ChannelNotConnected", "the channel has no access token")
        token = self._sealer.decrypt_str(integration.token, record=integration_record(integration.id), field="token")
        return PublishingChannel(
            internal_id=integration.internal_id, handle=integration.handle, access_token=token,
            api_base=integration.api_base,
        )  # fmt: skip

    @contextlib.asynccontextmanager
    async def _heartbeats(self) -> AsyncIterator[None]:
        """Heartbeat while the platform works, so a killed worker is noticed within the heartbeat timeout. Not at
        once: the server times out an attempt that never beats just the same, and a publish that is done before the
        first beat saves the server a write (the SDK sends a first heartbeat immediately)."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self._heartbeat_every_s)
                activity.heartbeat()

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- outcome -------------------------------------------------------------------------------------------------

    @activity.defn(name="post_mark")
    async def mark(self, request: MarkRequest) -> DeliveryState:
        """Record a final state other than PUBLISHED; a published delivery stays published."""
        now = self._clock.now()
        async with self._uows() as uow:
            delivery = await uow.deliveries.get(request.organization_id, request.delivery_id)
            if delivery is None:
                return request.state
            if delivery.state == DeliveryState.PUBLISHED:
                return delivery.state
            await uow.deliveries.update(delivery.model_copy(update={
                "state": request.state, "error_code": request.error_code, "last_error": request.message,
                "updated_at": now,
            }))  # fmt: skip
            await uow.commit()
        if request.error_code == "AuthRevoked":
            reason = "revoked while publishing"
            await self._refresh_needed.mark(delivery.organization_id, delivery.integration_id, reason)
        return request.state

    # --- token refresh -------------------------------------------------------------------------------------------

    @activity.defn(name="post_refresh_token")
    async def refresh_token(self, ref: DeliveryRef) -> RefreshResult:
        """Ask the channel's own refresh loop to refresh now (so refreshes of a channel never overlap) and wait for
        the new token to be stored."""
        async with self._uows.reading() as uow:
            delivery = await uow.deliveries.get(ref.organization_id, ref.delivery_id)
            integration = await uow.integrations.get(ref.organization_id, delivery.integration_id) if delivery else None
        if delivery is None or integration is None or self._channel_workflows is None:
            return RefreshResult(refreshed=False)
        before = integration.updated_at
        await self._channel_workflows().start_token_refresh(
            ref.organization_id, integration.id, integration.provider_identifier, refresh_now=True
        )
        deadline = self._clock.now() + timedelta(seconds=60)
        while self._clock.now() < deadline:
            activity.heartbeat()
            async with self._uows.reading() as uow:
                current = await uow.integrations.get(ref.organization_id, integration.id)
            if current is None or current.refresh_needed:
                return RefreshResult(refreshed=False)
            if current.updated_at > before:
                return RefreshResult(refreshed=True)
            await asyncio.sleep(0.5)
        raise ApplicationError("the channel's token was not refreshed in time", type="Transient")

    # --- metrics -------------------------------------------------------------------------------------------------

    @activity.defn(name="post_metrics")
    async def metrics(self, request: MetricsRequest) -> dict[str, int]:
        org = request.organization_id
        async with self._uows.reading() as uow:
            delivery = await uow.deliveries.get(org, request.delivery_id)
            integration = await uow.integrations.get(org, delivery.integration_id) if delivery else None
        if delivery is None or integration is None or delivery.external_id is None:
            return {}
        publisher = self._publishers.get(delivery.platform)
        if publisher is None:
            return {}
        proxy = await self._proxy(delivery, await self._account(delivery), allow_direct=await self._allows_direct(org))
        try:
            counters = await publisher.metrics(
                self._channel(integration), PublishedPost(delivery.external_id, delivery.url), proxy=proxy
            )
        except ConnectorError as exc:
            raise self._error(exc) from None
        now = self._clock.now()
        values = counters.as_dict()
        async with self._uows() as uow:
            current = await uow.deliveries.get(org, request.delivery_id)
            if current is not None:
                collected = {**current.metrics, request.label: {**values, "collectedAt": now.isoformat()}}
                await uow.deliveries.update(
                    current.model_copy(update={"metrics": collected, "metrics_at": now, "updated_at": now})
                )
            await uow.commit()
        return values

    async def _allows_direct(self, organization_id: str) -> bool:
        async with self._uows.reading() as uow:
            organization = await uow.organizations.get(organization_id)
        return bool(organization and organization.allow_direct_publishing)


def _outgoing(post: Post, delivery: Delivery) -> OutgoingPost:
    return OutgoingPost(
        key=delivery.idempotency_key,
        text=post.content,
        first_attempt_at=delivery.first_attempt_at or delivery.updated_at,
        media=tuple(MediaItem(url=m.url, kind=m.kind, alt_text=m.alt_text) for m in post.media),  # type: ignore[arg-type]
        settings=post.settings,
    )
