"""Repository contracts of the publishing side (relational store, inside the unit of work's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.pagination import Page, PageRequest
from domain.publishing.posts import Delivery, DeliveryState, Post, PostFilter


class PostRepository(Protocol):
    async def add(self, post: Post) -> None: ...
    async def get(self, organization_id: str, post_id: str, *, lock: bool = False) -> Post | None:
        """`lock` holds the row until the transaction ends (SELECT ... FOR UPDATE): a read-modify-write of the post
        (edit, reschedule, approval) then waits for another one instead of overwriting it."""
        ...

    async def update(self, post: Post) -> None: ...
    async def list(self, organization_id: str, filters: PostFilter, page: PageRequest) -> Page[Post]: ...


class DeliveryRepository(Protocol):
    async def add(self, delivery: Delivery) -> None: ...
    async def get(self, organization_id: str, delivery_id: str) -> Delivery | None: ...
    async def for_posts(self, organization_id: str, post_ids: list[str], *, lock: bool = False) -> list[Delivery]:
        """The deliveries of these posts; `lock` holds them (SELECT ... FOR UPDATE) until the transaction ends, so
        a concurrent claim waits for an edit of the post to commit."""
        ...

    async def update(self, delivery: Delivery) -> None: ...
    async def claim(self, delivery_id: str, now: datetime) -> Delivery | None:
        """Move a QUEUE (or interrupted PUBLISHING) delivery to PUBLISHING, count the attempt and keep the time of
        the first one; None when the delivery is in another state (published, cancelled, ...)."""
        ...

    async def count_for_limit(
        self, organization_id: str, account_id: str, since: datetime, claimed: Delivery | None = None
    ) -> int:
        """The daily post limit's count for the `claimed` delivery: the account's deliveries published since `since`
        plus those being published now that were claimed before it (of concurrent claims, the first goes). Without
        `claimed` (warming asks), all of those being published now count."""
        ...

    async def release(
        self, delivery_id: str, state: DeliveryState, error_code: str, message: str | None, now: datetime
    ) -> None:
        """Undo a claim that must not publish (risk limits): the attempt is taken back; the delivery goes to `state`
        with the reason."""
        ...

    async def move_waiting(self, delivery_id: str, publish_date: datetime, now: datetime) -> None:
        """A new publish date for a delivery still in the QUEUE; one conditional write, so it never overwrites what a
        publish that claimed the delivery meanwhile has written."""
        ...

    async def mark_published(
        self, delivery_id: str, external_id: str, url: str | None, now: datetime, journal: dict[str, str] | None = None
    ) -> None:
        """PUBLISHED with the platform's id and URL; the first published time is kept (a lookup may find it again).
        `journal`, when given, replaces the publish journal in the same write."""
        ...

    async def record_journal(self, delivery_id: str, journal: dict[str, str], now: datetime) -> None: ...
    async def unfinished_due(self, before: datetime, limit: int) -> list[Delivery]:
        """QUEUE or PUBLISHING deliveries due before `before`, or never handed to a workflow (the reconciler's list)."""
        ...

    async def mark_scheduled(self, delivery_ids: list[str]) -> None: ...
    async def waiting_for_window(self, organization_id: str, account_id: str) -> list[Delivery]:
        """The account's deliveries back in the QUEUE until its risk limits let them publish (RiskLimitWait)."""
        ...
