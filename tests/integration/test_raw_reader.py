"""RawReader builds a row's domain object once per row content, and never hands out one that is not the row's now."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.identity import common
from adapters.sql.identity.common import ACCOUNT, SOUL
from adapters.sql.identity.store import SqlDocumentStore
from tests.support import identity as make

ORG = "org-raw"
OTHER = "org-other"


async def _account(store: SqlDocumentStore, **kw: Any) -> str:
    soul = make.soul(ORG)
    await store.souls.add(soul)
    account = make.account(ORG, soul.id, **kw)
    await store.accounts.add(account)
    return account.id


async def test_an_unchanged_row_is_built_once_and_shared(clean_db: AsyncEngine) -> None:
    store = SqlDocumentStore(clean_db)
    account_id = await _account(store, metrics={"followers": 3})
    first = await store.accounts.get(ORG, account_id)
    assert first is not None
    assert await store.accounts.get(ORG, account_id) is first
    with pytest.raises(ValidationError):
        first.handle = "changed"  # type: ignore[misc]  # shared, so frozen


async def test_a_changed_row_is_built_again(clean_db: AsyncEngine) -> None:
    store = SqlDocumentStore(clean_db)
    account_id = await _account(store)
    first = await store.accounts.get(ORG, account_id)
    assert first is not None
    changed = first.model_copy(update={"display_name": "Renamed", "updated_at": make.tick()})
    await store.accounts.update(changed)
    again = await store.accounts.get(ORG, account_id)
    assert again is not first
    assert again == changed


@pytest.mark.parametrize(("before", "after"), [(1, 1.0), (1, True), (0, False)])
async def test_json_values_python_calls_equal_are_still_a_change(
    clean_db: AsyncEngine, before: object, after: object
) -> None:
    """A change written by something other than the app (a migration, an operator's UPDATE) need not touch
    updated_at; the row still counts as changed when its JSON text does."""
    store = SqlDocumentStore(clean_db)
    account_id = await _account(store, metrics={"n": before})
    first = await store.accounts.get(ORG, account_id)
    assert first is not None
    assert first.metrics == {"n": before}
    async with clean_db.begin() as conn:
        await conn.execute(update(ACCOUNT).where(ACCOUNT.c.id == account_id).values(metrics={"n": after}))
    again = await store.accounts.get(ORG, account_id)
    assert again is not None
    assert again is not first
    assert type(again.metrics["n"]) is type(after)


async def test_another_organization_never_gets_a_remembered_row(clean_db: AsyncEngine) -> None:
    store = SqlDocumentStore(clean_db)
    account_id = await _account(store)
    assert await store.accounts.get(ORG, account_id) is not None
    assert await store.accounts.get(OTHER, account_id) is None


async def test_a_deleted_row_is_gone_at_once(clean_db: AsyncEngine) -> None:
    store = SqlDocumentStore(clean_db)
    soul = make.soul(ORG, "Short-lived")
    await store.souls.add(soul)
    assert await store.souls.get(ORG, soul.id) == soul
    async with clean_db.begin() as conn:
        await conn.execute(SOUL.delete().where(SOUL.c.id == soul.id))
    assert await store.souls.get(ORG, soul.id) is None


async def test_the_rows_remembered_are_bounded(clean_db: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "REMEMBERED_ROWS", 2)
    store = SqlDocumentStore(clean_db)
    souls = [make.soul(ORG, f"Soul {i}") for i in range(3)]
    for soul in souls:
        await store.souls.add(soul)
    first = await store.souls.get(ORG, souls[0].id)
    assert await store.souls.get(ORG, souls[0].id) is first
    await store.souls.get(ORG, souls[1].id)
    await store.souls.get(ORG, souls[2].id)  # a third key: the first one remembered goes
    again = await store.souls.get(ORG, souls[0].id)
    assert again == first
    assert again is not first
