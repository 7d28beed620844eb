"""Integrity violations that only a concurrent change can cause answer a Conflict (409), never a 500."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.identity.common import ACCOUNT
from adapters.sql.identity.store import SqlDocumentStore
from adapters.sql.tables import OrganizationRow
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.channels.integrations import Integration
from domain.channels.matrix import Mapping
from domain.clock import utcnow
from domain.errors import Conflict
from domain.identity.platforms import Platform
from tests.support import identity as make


async def test_a_reference_deleted_under_a_write_is_a_conflict(clean_db: AsyncEngine) -> None:
    store = SqlDocumentStore(clean_db)
    row = make.account("org", "soul-deleted-meanwhile").model_dump()
    with pytest.raises(Conflict) as info:
        async with store.accounts.write() as conn:  # as if the soul vanished after the store's check
            await conn.execute(insert(ACCOUNT).values(row))
    assert info.value.code == "concurrent_change"


async def test_two_primaries_for_one_soul_and_platform_is_a_conflict(clean_db: AsyncEngine) -> None:
    uows = SqlUnitOfWorkFactory.for_engine(clean_db)
    now = utcnow()
    async with uows() as uow:
        uow.session.add(OrganizationRow(id="org", name="Org", created_at=now, updated_at=now))
        await uow.session.flush()
        integrations = [
            Integration(
                id=str(uuid.uuid4()),
                organization_id="org",
                provider_identifier=Platform.X,
                internal_id=str(i),
                name="c",
                created_at=now,
                updated_at=now,
            )
            for i in range(2)
        ]
        mappings = [
            Mapping(
                id=str(uuid.uuid4()),
                organization_id="org",
                soul_id="s",
                integration_id=i.id,
                platform=Platform.X,
                is_primary=n == 0,
                created_at=now,
                updated_at=now,
            )
            for n, i in enumerate(integrations)
        ]
        for integration, mapping in zip(integrations, mappings, strict=True):
            await uow.integrations.add(integration)
            await uow.mappings.add(mapping)
        with pytest.raises(Conflict) as info:  # as if another request promoted the second without demoting the first
            await uow.mappings.update(mappings[1].model_copy(update={"is_primary": True}))
        assert info.value.code == "concurrent_change"
