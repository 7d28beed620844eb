"""Claims of one account's deliveries are ordered as they commit (adapters/sql/publishing.py: claim and
count_for_limit): of two claims racing for the last post of the day, exactly one goes first, also on PostgreSQL,
where a claim that read the clock earlier can commit later."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.identity.platforms import Platform
from domain.organizations import Organization
from domain.publishing.posts import Delivery, Post


async def _deliveries(uows: SqlUnitOfWorkFactory, account_id: str) -> tuple[str, list[Delivery]]:
    now = datetime.now(UTC)
    org = Organization(id=str(uuid.uuid4()), name="Limits", created_at=now, updated_at=now)
    post = Post(id=str(uuid.uuid4()), organization_id=org.id, soul_id="soul", content="Hi", publish_date=now,
                created_at=now, updated_at=now)  # fmt: skip
    deliveries = [
        Delivery(
            id=str(uuid.uuid4()),
            organization_id=org.id,
            post_id=post.id,
            soul_id="soul",
            integration_id=str(uuid.uuid4()),
            platform=Platform.X,
            account_id=account_id,
            publish_date=now,
            created_at=now,
            updated_at=now,
        )
        for _ in range(2)
    ]
    async with uows() as uow:
        await uow.organizations.add(org)
        await uow.posts.add(post)
        for delivery in deliveries:
            await uow.deliveries.add(delivery)
        await uow.commit()
    return org.id, deliveries


async def test_of_two_racing_claims_exactly_one_counts_the_other(clean_db: AsyncEngine) -> None:
    uows = SqlUnitOfWorkFactory.for_engine(clean_db)
    account = str(uuid.uuid4())
    org, (first, second) = await _deliveries(uows, account)
    since = datetime.now(UTC) - timedelta(hours=1)
    early = datetime.now(UTC)  # the clock read by the claim that will commit last

    async def count(claimed: Delivery) -> int:
        async with uows.reading() as uow:
            return await uow.deliveries.count_for_limit(org, account, since, claimed)

    async def claim_and_count() -> int:
        async with uows() as uow:
            claimed = await uow.deliveries.claim(second.id, early + timedelta(seconds=1))
            await uow.commit()
        assert claimed is not None
        return await count(claimed)

    slow = uows()
    await slow.__aenter__()  # on SQLite this holds the write lock: the other claim waits for it, as it must
    try:
        slow_claim = await slow.deliveries.claim(first.id, early)
        assert slow_claim is not None
        racing = asyncio.create_task(claim_and_count())
        await asyncio.sleep(0.5)  # the racing claim commits and counts now, unless it must wait for this one
        await slow.commit()
    finally:
        await slow.__aexit__(None, None, None)
    counts = sorted([await asyncio.wait_for(racing, 10), await count(slow_claim)])
    # One sees the other and waits for tomorrow; the other goes. Both at 0 would publish both.
    assert counts == [0, 1]
