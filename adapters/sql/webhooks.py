"""SQL repositories of the webhook side, on the unit of work's session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.webhook_tables import WebhookDeliveryRow, WebhookRow
from domain.notifications.webhooks import Webhook, WebhookDelivery, WebhookDeliveryStatus
from domain.pagination import Cursor, Page, PageRequest

WEBHOOK: Any = WebhookRow.__table__  # type: ignore[attr-defined]
WEBHOOK_DELIVERY: Any = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
_PENDING = WebhookDeliveryStatus.PENDING.value
T = TypeVar("T", Webhook, WebhookDelivery)


def _webhook(row: Any) -> Webhook:
    return Webhook.model_validate(dict(row._mapping))


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery.model_validate(dict(row._mapping))


def _webhook_values(webhook: Webhook) -> dict[str, Any]:
    values = webhook.model_dump()
    values["events"] = [e.value for e in webhook.events]
    return values


def _delivery_values(delivery: WebhookDelivery) -> dict[str, Any]:
    values = delivery.model_dump()
    values["event_type"] = delivery.event_type.value
    values["status"] = delivery.status.value
    return values


class SqlWebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, webhook: Webhook) -> None:
        await self._s.execute(insert(WEBHOOK).values(_webhook_values(webhook)))

    async def get(self, organization_id: str, webhook_id: str) -> Webhook | None:
        stmt = select(WEBHOOK).where(WEBHOOK.c.id == webhook_id, WEBHOOK.c.organization_id == organization_id)
        row = (await self._s.execute(stmt)).first()
        return _webhook(row) if row else None

    async def enabled(self, organization_id: str) -> list[Webhook]:
        stmt = (
            select(WEBHOOK)
            .where(WEBHOOK.c.organization_id == organization_id, WEBHOOK.c.enabled.is_(True))
            .order_by(WEBHOOK.c.created_at, WEBHOOK.c.id)
        )
        return [_webhook(r) for r in (await self._s.execute(stmt)).all()]

    async def update(self, webhook: Webhook) -> None:
        values = _webhook_values(webhook)
        for key in ("id", "organization_id", "created_at"):
            values.pop(key)
        await self._s.execute(
            update(WEBHOOK)
            .where(WEBHOOK.c.id == webhook.id, WEBHOOK.c.organization_id == webhook.organization_id)
            .values(values)
        )

    async def delete(self, organization_id: str, webhook_id: str) -> None:
        # Deliveries go with it (foreign key); a workflow still sending one finds it gone and stops.
        await self._s.execute(
            delete(WEBHOOK_DELIVERY).where(
                WEBHOOK_DELIVERY.c.webhook_id == webhook_id, WEBHOOK_DELIVERY.c.organization_id == organization_id
            )
        )
        await self._s.execute(
            delete(WEBHOOK).where(WEBHOOK.c.id == webhook_id, WEBHOOK.c.organization_id == organization_id)
        )

    async def list(self, organization_id: str, page: PageRequest) -> Page[Webhook]:
        stmt = select(WEBHOOK).where(WEBHOOK.c.organization_id == organization_id)
        return await _page(self._s, stmt, WEBHOOK, page, _webhook, newest_first=False)


class SqlWebhookDeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add_missing(self, deliveries: list[WebhookDelivery]) -> list[WebhookDelivery]:
        if not deliveries:
            return []
        ids = [d.id for d in deliveries]
        stored = {
            r.id: _delivery(r)
            for r in (await self._s.execute(select(WEBHOOK_DELIVERY).where(WEBHOOK_DELIVERY.c.id.in_(ids)))).all()
        }
        missing = [d for d in deliveries if d.id not in stored]
        if missing:
            await self._s.execute(insert(WEBHOOK_DELIVERY), [_delivery_values(d) for d in missing])
        return [stored.get(d.id, d) for d in deliveries]

    async def get(self, organization_id: str, delivery_id: str) -> WebhookDelivery | None:
        stmt = select(WEBHOOK_DELIVERY).where(
            WEBHOOK_DELIVERY.c.id == delivery_id, WEBHOOK_DELIVERY.c.organization_id == organization_id
        )
        row = (await self._s.execute(stmt)).first()
        return _delivery(row) if row else None

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
        await self._s.execute(
            update(WEBHOOK_DELIVERY)
            .where(WEBHOOK_DELIVERY.c.id == delivery_id)
            .values(
                attempts=WEBHOOK_DELIVERY.c.attempts + 1,
                status=status.value,
                last_status_code=status_code,
                last_error=error,
                last_attempt_at=at,
                next_attempt_at=next_attempt_at,
                delivered_at=at if status == WebhookDeliveryStatus.DELIVERED else None,
                updated_at=at,
            )
        )

    async def finish(self, delivery_id: str, *, status: WebhookDeliveryStatus, error: str | None, at: datetime) -> bool:
        result = await self._s.execute(
            update(WEBHOOK_DELIVERY)
            .where(WEBHOOK_DELIVERY.c.id == delivery_id, WEBHOOK_DELIVERY.c.status == _PENDING)
            .values(
                status=status.value,
                last_error=func.coalesce(WEBHOOK_DELIVERY.c.last_error, error),
                next_attempt_at=None,
                updated_at=at,
            )
        )
        return int(getattr(result, "rowcount", 0)) == 1

    async def stale_pending(self, before: datetime, limit: int) -> list[WebhookDelivery]:
        due = func.coalesce(WEBHOOK_DELIVERY.c.next_attempt_at, WEBHOOK_DELIVERY.c.created_at)
        stmt = (
            select(WEBHOOK_DELIVERY)
            .where(WEBHOOK_DELIVERY.c.status == _PENDING, due < before)
            .order_by(WEBHOOK_DELIVERY.c.created_at, WEBHOOK_DELIVERY.c.id)
            .limit(limit)
        )
        return [_delivery(r) for r in (await self._s.execute(stmt)).all()]

    async def delete_older_than(self, cutoff: datetime, limit: int) -> int:
        ids = (
            select(WEBHOOK_DELIVERY.c.id)
            .where(WEBHOOK_DELIVERY.c.created_at < cutoff, WEBHOOK_DELIVERY.c.status != _PENDING)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self._s.execute(delete(WEBHOOK_DELIVERY).where(WEBHOOK_DELIVERY.c.id.in_(ids)))
        return int(getattr(result, "rowcount", 0))

    async def list(self, organization_id: str, webhook_id: str, page: PageRequest) -> Page[WebhookDelivery]:
        stmt = select(WEBHOOK_DELIVERY).where(
            WEBHOOK_DELIVERY.c.organization_id == organization_id, WEBHOOK_DELIVERY.c.webhook_id == webhook_id
        )
        return await _page(self._s, stmt, WEBHOOK_DELIVERY, page, _delivery, newest_first=True)


async def _page(
    session: AsyncSession,
    stmt: Any,
    table: Any,
    page: PageRequest,
    to_entity: Callable[[Any], T],
    *,
    newest_first: bool,
) -> Page[T]:
    """Keyset pagination over (created_at, id) for Core rows (adapters/sql/pagination.py reads ORM entities)."""
    created, ident = table.c.created_at, table.c.id
    if page.after is not None:
        at, after_id = page.after.created_at, page.after.id
        if newest_first:
            stmt = stmt.where(or_(created < at, and_(created == at, ident < after_id)))
        else:
            stmt = stmt.where(or_(created > at, and_(created == at, ident > after_id)))
    order = (created.desc(), ident.desc()) if newest_first else (created.asc(), ident.asc())
    rows = (await session.execute(stmt.order_by(*order).limit(page.limit + 1))).all()
    items = [to_entity(r) for r in rows[: page.limit]]
    more = len(rows) > page.limit
    return Page(items, Cursor(items[-1].created_at, items[-1].id).encode() if more and items else None)
