"""Webhook activities: emit an event decided by a workflow, send one delivery (one attempt per activity attempt,
each recorded), give a delivery up, and sweep deliveries whose sending never started.

Inputs and results carry ids, statuses and HTTP codes only; `send` loads and opens the webhook's secret itself, so
it never enters workflow history. The webhook's URL is not logged (URLs of some receivers are secrets themselves)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.clock import Clock
from domain.notifications.events import delivery_event
from domain.notifications.ports import WebhookSender
from domain.notifications.targets import RefusedTarget, WebhookPoster
from domain.notifications.webhooks import (
    EVENT_HEADER,
    ID_HEADER,
    SECRET_FIELD,
    SIGNATURE_HEADER,
    WebhookDeliveryStatus,
    WebhookEvent,
    signature_header,
    webhook_record,
)
from domain.ports import FieldSealer, UnitOfWorkFactory
from domain.services.webhooks import WebhookNotifier

USER_AGENT = "Souls-Webhooks/1"
# Codes worth another attempt: the receiver is busy or broken for now. Any other non-2xx is final.
RETRYABLE_CODES = frozenset({408, 429})


class EmitRequest(BaseModel):
    organization_id: str
    delivery_id: str  # the post's delivery whose final state is the event
    event_id: str
    event_type: WebhookEvent
    occurred_at: datetime


class EmitResult(BaseModel):
    webhook_delivery_ids: list[str]


class SendRequest(BaseModel):
    organization_id: str
    webhook_delivery_id: str
    timeout_s: float = 10.0
    retry_initial_s: float = 10.0
    retry_max_interval_s: float = 3600.0
    max_attempts: int = 20


class SendOutcome(BaseModel):
    status: str  # delivered | failed | gone
    attempts: int = 0
    status_code: int | None = None


class GiveUpRequest(BaseModel):
    organization_id: str
    webhook_delivery_id: str
    reason: str


class SweepRequest(BaseModel):
    grace_s: float = 120.0  # a delivery due this recently is still its workflow's business
    limit: int = 500


class SweepResult(BaseModel):
    checked: int
    resumed: list[str]


class WebhookActivities:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        sealer: FieldSealer,
        notifier: WebhookNotifier,
        sender: WebhookSender,
        clock: Clock,
        post: WebhookPoster,
    ) -> None:
        self._uows = uows
        self._sealer = sealer
        self._notifier = notifier
        self._sender = sender
        self._clock = clock
        self._post = post

    @activity.defn(name="webhook_emit")
    async def emit(self, request: EmitRequest) -> EmitResult:
        """Tell the webhooks of a delivery's final state, as the record has it (a delivery published meanwhile is not
        told as failed). Idempotent: the event id fixes the deliveries' ids."""
        async with self._uows.reading() as uow:
            delivery = await uow.deliveries.get(request.organization_id, request.delivery_id)
        if delivery is None:
            return EmitResult(webhook_delivery_ids=[])
        event = delivery_event(self._notifier.link_base, delivery, event_id=request.event_id, at=request.occurred_at)
        if event is None or event.type != request.event_type:
            return EmitResult(webhook_delivery_ids=[])
        queued = await self._notifier.emit(event)
        return EmitResult(webhook_delivery_ids=[d.id for d in queued])

    @activity.defn(name="webhook_send")
    async def send(self, request: SendRequest) -> SendOutcome:
        org, row_id = request.organization_id, request.webhook_delivery_id
        async with self._uows.reading() as uow:
            delivery = await uow.webhook_deliveries.get(org, row_id)
            webhook = await uow.webhooks.get(org, delivery.webhook_id) if delivery else None
        if delivery is None or webhook is None:
            return SendOutcome(status="gone")
        if delivery.status != WebhookDeliveryStatus.PENDING:
            return SendOutcome(
                status=delivery.status.value, attempts=delivery.attempts, status_code=delivery.last_status_code
            )
        if not webhook.enabled:
            await self._finish(row_id, WebhookDeliveryStatus.FAILED, "the webhook was disabled")
            return SendOutcome(status=WebhookDeliveryStatus.FAILED.value, attempts=delivery.attempts)
        secret = self._sealer.decrypt_str(webhook.secret, record=webhook_record(webhook.id), field=SECRET_FIELD)
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
        now = self._clock.now()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: delivery.event_type.value,
            ID_HEADER: delivery.id,
            SIGNATURE_HEADER: signature_header(secret, int(now.timestamp()), body),
        }
        attempt = activity.info().attempt
        attempts = delivery.attempts + 1
        last = attempt >= request.max_attempts
        try:
            answer = await self._post(webhook.url, body, headers, timeout_s=request.timeout_s)
        except RefusedTarget as exc:
            error = f"refused to send: {exc}; webhooks reach public internet addresses only"
            await self._record(row_id, now, WebhookDeliveryStatus.FAILED, None, error, None)
            activity.logger.warning("webhook delivery %s: refused, the target is not a public address", row_id)
            return SendOutcome(status=WebhookDeliveryStatus.FAILED.value, attempts=attempts)
        except httpx.HTTPError as exc:
            error = f"the receiver could not be reached ({type(exc).__name__})"
            next_at = None if last else _next_attempt(now, attempt, request, None)
            await self._record(row_id, now, WebhookDeliveryStatus.PENDING, None, error, next_at)
            activity.logger.info("webhook delivery %s: attempt %d unreachable", row_id, attempts)
            raise ApplicationError(error, type="Unreachable") from None
        code, snippet, retry_after = answer.status_code, answer.snippet, answer.retry_after
        activity.logger.info("webhook delivery %s: attempt %d answered HTTP %d", row_id, attempts, code)
        if 200 <= code < 300:
            await self._record(row_id, now, WebhookDeliveryStatus.DELIVERED, code, None, None)
            return SendOutcome(status=WebhookDeliveryStatus.DELIVERED.value, attempts=attempts, status_code=code)
        error = f"the receiver answered HTTP {code}" + (f": {snippet}" if snippet else "")
        if code not in RETRYABLE_CODES and code < 500:
            await self._record(row_id, now, WebhookDeliveryStatus.FAILED, code, error, None)
            return SendOutcome(status=WebhookDeliveryStatus.FAILED.value, attempts=attempts, status_code=code)
        delay = _retry_after(retry_after, request) if code == 429 else None
        next_at = None if last else _next_attempt(now, attempt, request, delay)
        await self._record(row_id, now, WebhookDeliveryStatus.PENDING, code, error, next_at)
        raise ApplicationError(error, type="ReceiverError", next_retry_delay=delay)

    @activity.defn(name="webhook_give_up")
    async def give_up(self, request: GiveUpRequest) -> SendOutcome:
        """After the last attempt (or the time limit): the delivery failed; its last error stays as recorded."""
        await self._finish(request.webhook_delivery_id, WebhookDeliveryStatus.FAILED, request.reason)
        async with self._uows.reading() as uow:
            delivery = await uow.webhook_deliveries.get(request.organization_id, request.webhook_delivery_id)
        if delivery is None:
            return SendOutcome(status="gone")
        return SendOutcome(
            status=delivery.status.value, attempts=delivery.attempts, status_code=delivery.last_status_code
        )

    @activity.defn(name="webhook_sweep")
    async def sweep(self, request: SweepRequest) -> SweepResult:
        """Start (or join) the sending of pending deliveries not tried for a while: a process that stored a delivery
        but stopped before starting its workflow, or a workflow an operator terminated."""
        before = self._clock.now() - timedelta(seconds=request.grace_s)
        async with self._uows.reading() as uow:
            stale = await uow.webhook_deliveries.stale_pending(before, request.limit)
        for delivery in stale:
            activity.heartbeat(delivery.id)
            await self._sender.start(delivery)
        if stale:
            activity.logger.warning("resumed the sending of %d webhook deliveries", len(stale))
        return SweepResult(checked=len(stale), resumed=[d.id for d in stale])

    async def _record(
        self,
        row_id: str,
        at: datetime,
        status: WebhookDeliveryStatus,
        code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        async with self._uows() as uow:
            await uow.webhook_deliveries.record_attempt(
                row_id, at=at, status=status, status_code=code, error=error, next_attempt_at=next_attempt_at
            )
            await uow.commit()

    async def _finish(self, row_id: str, status: WebhookDeliveryStatus, error: str) -> None:
        async with self._uows() as uow:
            await uow.webhook_deliveries.finish(row_id, status=status, error=error, at=self._clock.now())
            await uow.commit()


def _retry_after(header: str | None, request: SendRequest) -> timedelta | None:
    if header is None or not header.strip().isdigit():
        return None
    return timedelta(seconds=min(float(header.strip()), request.retry_max_interval_s))


def _next_attempt(now: datetime, attempt: int, request: SendRequest, delay: timedelta | None) -> datetime:
    """When Temporal will try again: the retry policy's exponential backoff (or the receiver's Retry-After)."""
    if delay is not None:
        return now + delay
    backoff = min(request.retry_initial_s * 2 ** (attempt - 1), request.retry_max_interval_s)
    return now + timedelta(seconds=backoff)
