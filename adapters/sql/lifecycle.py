"""Bulk deletions of the deletion workflows on the relational store, each batch its own short transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, select, update

from adapters.sql.channel_tables import MappingRow
from adapters.sql.publishing_tables import DeliveryRow, PostRow
from adapters.sql.schema import metadata
from adapters.sql.tables import LoginFailureRow, OrganizationRow, UserRow
from adapters.sql.uow import SqlUnitOfWorkFactory

MAPPING: Table = MappingRow.__table__  # type: ignore[attr-defined]
POST: Table = PostRow.__table__  # type: ignore[attr-defined]
DELIVERY: Table = DeliveryRow.__table__  # type: ignore[attr-defined]
USER: Table = UserRow.__table__  # type: ignore[attr-defined]
LOGIN_FAILURE: Table = LoginFailureRow.__table__  # type: ignore[attr-defined]
ORGANIZATION: Table = OrganizationRow.__table__  # type: ignore[attr-defined]


def _organization_tables() -> list[Table]:
    """Every table with an `organization_id`, children before parents, so a batch never trips a foreign key. Found
    from the schema rather than listed, so a table added later is erased with its organization too."""
    return [t for t in reversed(metadata.sorted_tables) if "organization_id" in t.c and t is not ORGANIZATION]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class SqlLifecycleRecords:
    def __init__(self, uows: SqlUnitOfWorkFactory) -> None:
        self._uows = uows

    async def delete_soul_mappings(self, organization_id: str, soul_id: str) -> int:
        async with self._uows() as uow:
            result = await uow.session.execute(
                delete(MAPPING).where(MAPPING.c.organization_id == organization_id, MAPPING.c.soul_id == soul_id)
            )
            await uow.commit()
        return _rowcount(result)

    async def clear_account_references(self, organization_id: str, account_id: str) -> int:
        async with self._uows() as uow:
            result = await uow.session.execute(
                update(MAPPING)
                .where(MAPPING.c.organization_id == organization_id, MAPPING.c.account_id == account_id)
                .values(account_id=None)
            )
            await uow.commit()
        return _rowcount(result)

    async def delete_soul_posts(self, organization_id: str, soul_id: str, limit: int) -> int:
        async with self._uows() as uow:
            ids = list(
                (
                    await uow.session.execute(
                        select(POST.c.id)
                        .where(POST.c.organization_id == organization_id, POST.c.soul_id == soul_id)
                        .limit(limit)
                    )
                ).scalars()
            )
            if not ids:
                return 0
            await uow.session.execute(delete(DELIVERY).where(DELIVERY.c.post_id.in_(ids)))
            await uow.session.execute(delete(POST).where(POST.c.id.in_(ids)))
            await uow.commit()
        return len(ids)

    async def forget_logins(self, organization_id: str) -> int:
        async with self._uows() as uow:
            emails = await uow.session.execute(select(USER.c.email).where(USER.c.organization_id == organization_id))
            keys = [f"account:{email}" for email in emails.scalars()]
            if not keys:
                return 0
            result = await uow.session.execute(delete(LOGIN_FAILURE).where(LOGIN_FAILURE.c.key.in_(keys)))
            await uow.commit()
        return _rowcount(result)

    async def purge_organization(self, organization_id: str, limit: int) -> dict[str, int]:
        async with self._uows() as uow:
            for table in _organization_tables():
                [key] = table.primary_key.columns
                ids = list(
                    (
                        await uow.session.execute(
                            select(key).where(table.c.organization_id == organization_id).limit(limit)
                        )
                    ).scalars()
                )
                if ids:
                    await uow.session.execute(delete(table).where(key.in_(ids)))
                    await uow.commit()
                    return {table.name: len(ids)}
        return {}

    async def delete_organization(self, organization_id: str) -> bool:
        async with self._uows() as uow:
            result = await uow.session.execute(delete(ORGANIZATION).where(ORGANIZATION.c.id == organization_id))
            await uow.commit()
        return _rowcount(result) == 1
