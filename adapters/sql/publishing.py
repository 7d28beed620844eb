"""SQL repositories of the publishing side, on the unit of work's session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, or_, select, update

from adapters.sql.publishing_tables import DeliveryRow, PostRow
from domain.pagination import Cursor, Page, PageRequest
from domain.publishing.posts import RISK_LIMIT_WAIT, Delivery, DeliveryState, Post, PostFilter

POST: Any = PostRow.__table__  # type: ignore[attr-defined]
DELIVERY: Any = DeliveryRow.__table__  # type: ignore[attr-defined]
_UNFINISHED = (DeliveryState.QUEUE.value, DeliveryState.PUBLISHING.value)


def _post(row: Any) -> Post:
    return Post.model_validate(dict(row._mapping))


def _delivery(row: Any) -> Delivery:
    return Delivery.model_validate(dict(row._mapping))


class SqlPostRepository:
    def __init__(self, session: Any) -> None:
        self._s = session

    async def add(self, post: Post) -> None:
        await self._s.execute(insert(POST).values(post.model_dump(mode="json") | _times(post)))

    async def get(self, organization_id: str, post_id: str, *, lock: bool = False) -> Post | None:
        stmt = select(POST).where(POST.c.id == post_id, POST.c.organization_id == organization_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self._s.execute(stmt)).first()
        return _post(row) if row else None

    async def update(self, post: Post) -> None:
        values = post.model_dump(mode="json", exclude={"id", "organization_id", "created_at"}) | _times(post)
        values.pop("created_at", None)
        await self._s.execute(
            update(POST).where(POST.c.id == post.id, POST.c.organization_id == post.organization_id).values(values)
        )

    async def list(self, organization_id: str, filters: PostFilter, page: PageRequest) -> Page[Post]:
        stmt = select(POST).where(POST.c.organization_id == organization_id)
        if filters.soul_id:
            stmt = stmt.where(POST.c.soul_id == filters.soul_id)
        if filters.publish_from:
            stmt = stmt.where(POST.c.publish_date >= filters.publish_from)
        if filters.publish_to:
            stmt = stmt.where(POST.c.publish_date < filters.publish_to)
        if filters.state or filters.integration_id:
            conditions = [DELIVERY.c.post_id == POST.c.id]
            if filters.state:
                conditions.append(DELIVERY.c.state == filters.state.value)
            if filters.integration_id:
                conditions.append(DELIVERY.c.integration_id == filters.integration_id)
            stmt = stmt.where(exists().where(and_(*conditions)))
        if page.after:
            stmt = stmt.where(
                or_(
                    POST.c.created_at > page.after.created_at,
                    and_(POST.c.created_at == page.after.created_at, POST.c.id > page.after.id),
                )
            )
        rows = (await self._s.execute(stmt.order_by(POST.c.created_at, POST.c.id).limit(page.limit + 1))).all()
        items = [_post(r) for r in rows[: page.limit]]
        more = len(rows) > page.limit
        return Page(items, Cursor(items[-1].created_at, items[-1].id).encode() if more and items else None)


class SqlDeliveryRepository:
    def __init__(self, session: Any) -> None:
        self._s = session

    async def add(self, delivery: Delivery) -> None:
        await self._s.execute(insert(DELIVERY).values(_delivery_values(delivery)))

    async def get(self, organization_id: str, delivery_id: str) -> Delivery | None:
        stmt = select(DELIVERY).where(DELIVERY.c.id == delivery_id, DELIVERY.c.organization_id == organization_id)
        row = (await self._s.execute(stmt)).first()
        return _delivery(row) if row else None

    async def for_posts(self, organization_id: str, post_ids: list[str], *, lock: bool = False) -> list[Delivery]:
        if not post_ids:
            return []
        stmt = (
            select(DELIVERY)
            .where(DELIVERY.c.organization_id == organization_id, DELIVERY.c.post_id.in_(post_ids))
            .order_by(DELIVERY.c.post_id, DELIVERY.c.created_at, DELIVERY.c.id)
        )
        if lock:
            stmt = stmt.with_for_update()
        return [_delivery(r) for r in (await self._s.execute(stmt)).all()]

    async def update(self, delivery: Delivery) -> None:
        values = _delivery_values(delivery)
        for key in ("id", "organization_id", "post_id", "created_at"):
            values.pop(key)
        await self._s.execute(update(DELIVERY).where(DELIVERY.c.id == delivery.id).values(values))

    async def claim(self, delivery_id: str, now: datetime) -> Delivery | None:
        # One UPDATE ... RETURNING: on PostgreSQL it waits for a concurrent edit holding the row, then re-checks the
        # state. The first claim's time orders concurrent claims of one account for its daily limit
        # (count_for_limit), so it must follow the order in which the claims commit. SQLite: writers take turns and
        # `now` is read inside this transaction. PostgreSQL: claims of one account take turns on an advisory lock
        # held to the commit, and the time is the server's clock read after taking it.
        first_attempt: Any = now
        if self._s.get_bind().dialect.name == "postgresql":
            account = select(DELIVERY.c.account_id).where(DELIVERY.c.id == delivery_id).scalar_subquery()
            await self._s.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(account, 0))))
            first_attempt = func.clock_timestamp()
        row = (
            await self._s.execute(
                update(DELIVERY)
                .where(DELIVERY.c.id == delivery_id, DELIVERY.c.state.in_(_UNFINISHED))
                .values(
                    state=DeliveryState.PUBLISHING.value,
                    attempts=DELIVERY.c.attempts + 1,
                    first_attempt_at=func.coalesce(DELIVERY.c.first_attempt_at, first_attempt),
                    updated_at=now,
                )
                .returning(*DELIVERY.c)
            )
        ).first()
        return _delivery(row) if row else None

    async def count_for_limit(
        self, organization_id: str, account_id: str, since: datetime, claimed: Delivery | None = None
    ) -> int:
        publishing = DELIVERY.c.state == DeliveryState.PUBLISHING.value
        if claimed is not None:
            # Claimed before this one: by the first claim's time, which later writes (the publish journal, a
            # retry's claim) leave alone, so every claim sees the same order.
            claimed_before = or_(
                DELIVERY.c.first_attempt_at < claimed.first_attempt_at,
                and_(DELIVERY.c.first_attempt_at == claimed.first_attempt_at, DELIVERY.c.id < claimed.id),
            )
            publishing = and_(publishing, DELIVERY.c.id != claimed.id, claimed_before)
        stmt = select(func.count()).where(
            DELIVERY.c.account_id == account_id,
            DELIVERY.c.organization_id == organization_id,
            or_(and_(DELIVERY.c.state == DeliveryState.PUBLISHED.value, DELIVERY.c.published_at >= since), publishing),
        )
        return int((await self._s.execute(stmt)).scalar_one())

    async def release(
        self, delivery_id: str, state: DeliveryState, error_code: str, message: str | None, now: datetime
    ) -> None:
        # SET expressions read the row as the claim left it: its attempt is taken back, and a first attempt time
        # that this claim set goes with it.
        await self._s.execute(
            update(DELIVERY)
            .where(DELIVERY.c.id == delivery_id, DELIVERY.c.state == DeliveryState.PUBLISHING.value)
            .values(
                state=state.value,
                attempts=DELIVERY.c.attempts - 1,
                first_attempt_at=case((DELIVERY.c.attempts <= 1, None), else_=DELIVERY.c.first_attempt_at),
                error_code=error_code,
                last_error=message,
                updated_at=now,
            )
        )

    async def move_waiting(self, delivery_id: str, publish_date: datetime, now: datetime) -> None:
        await self._s.execute(
            update(DELIVERY)
            .where(DELIVERY.c.id == delivery_id, DELIVERY.c.state == DeliveryState.QUEUE.value)
            .values(publish_date=publish_date, updated_at=now)
        )

    async def mark_published(
        self, delivery_id: str, external_id: str, url: str | None, now: datetime, journal: dict[str, str] | None = None
    ) -> None:
        notes = {} if journal is None else {"journal": dict(journal)}
        await self._s.execute(
            update(DELIVERY)
            .where(DELIVERY.c.id == delivery_id)
            .values(
                state=DeliveryState.PUBLISHED.value,
                external_id=external_id,
                url=url,
                published_at=func.coalesce(DELIVERY.c.published_at, now),
                last_error=None,
                error_code=None,
                updated_at=now,
                **notes,
            )
        )

    async def record_journal(self, delivery_id: str, journal: dict[str, str], now: datetime) -> None:
        await self._s.execute(
            update(DELIVERY).where(DELIVERY.c.id == delivery_id).values(journal=dict(journal), updated_at=now)
        )

    async def unfinished_due(self, before: datetime, limit: int) -> list[Delivery]:
        stmt = (
            select(DELIVERY)
            .where(
                DELIVERY.c.state.in_(_UNFINISHED),
                or_(DELIVERY.c.publish_date < before, DELIVERY.c.scheduled.is_(False)),
            )
            .order_by(DELIVERY.c.publish_date, DELIVERY.c.id)
            .limit(limit)
        )
        return [_delivery(r) for r in (await self._s.execute(stmt)).all()]

    async def mark_scheduled(self, delivery_ids: list[str]) -> None:
        if delivery_ids:
            await self._s.execute(update(DELIVERY).where(DELIVERY.c.id.in_(delivery_ids)).values(scheduled=True))

    async def waiting_for_window(self, organization_id: str, account_id: str) -> list[Delivery]:
        stmt = select(DELIVERY).where(
            DELIVERY.c.account_id == account_id,  # ix_delivery_account_state
            DELIVERY.c.state == DeliveryState.QUEUE.value,
            DELIVERY.c.organization_id == organization_id,
            DELIVERY.c.error_code == RISK_LIMIT_WAIT,
        )
        return [_delivery(r) for r in (await self._s.execute(stmt)).all()]


def _times(post: Post) -> dict[str, Any]:
    # model_dump(mode="json") turns datetimes into strings; the UTC column type wants datetimes.
    return {"publish_date": post.publish_date, "created_at": post.created_at, "updated_at": post.updated_at}


def _delivery_values(delivery: Delivery) -> dict[str, Any]:
    values = delivery.model_dump()
    values["platform"] = delivery.platform.value
    values["state"] = delivery.state.value
    return values
