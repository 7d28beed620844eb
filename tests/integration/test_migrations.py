from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.schema import metadata


async def test_migrations_build_exactly_the_models_schema(engine: AsyncEngine) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_constraints_follow_the_naming_convention(engine: AsyncEngine) -> None:
    def names(sync_conn: Any) -> dict[str, list[Any]]:
        insp = inspect(sync_conn)
        return {
            "pk": [insp.get_pk_constraint("app_user")["name"]],
            "fk": [fk["name"] for fk in insp.get_foreign_keys("refresh_token")],
            "uq": [u["name"] for u in insp.get_unique_constraints("app_user")],
        }

    async with engine.connect() as conn:
        found = await conn.run_sync(names)
    assert found["pk"] == ["pk_app_user"]
    assert sorted(found["fk"]) == [
        "fk_refresh_token_organization_id_organization",
        "fk_refresh_token_user_id_app_user",
    ]
    assert sorted(found["uq"]) == ["uq_app_user_email", "uq_app_user_invitation_digest"]
