"""SQL repositories of the channels side, on the unit of work's session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.channel_tables import IntegrationRow, MappingRow, OAuthStateRow, PlatformAppRow
from domain.channels.apps import PlatformApp
from domain.channels.integrations import Integration
from domain.channels.matrix import Mapping
from domain.channels.oauth import OAuthState
from domain.errors import Conflict
from domain.identity.platforms import Platform

INTEGRATION: Any = IntegrationRow.__table__  # type: ignore[attr-defined]
MAPPING: Any = MappingRow.__table__  # type: ignore[attr-defined]
OAUTH_STATE: Any = OAuthStateRow.__table__  # type: ignore[attr-defined]
PLATFORM_APP: Any = PlatformAppRow.__table__  # type: ignore[attr-defined]


def _integration(row: Any) -> Integration:
    return Integration.model_validate(dict(row._mapping))


def _mapping(row: Any) -> Mapping:
    return Mapping.model_validate(dict(row._mapping))


class SqlIntegrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, integration: Integration) -> None:
        await self._s.execute(insert(INTEGRATION).values(integration.model_dump()))

    async def get(self, organization_id: str, integration_id: str) -> Integration | None:
        stmt = select(INTEGRATION).where(
            INTEGRATION.c.id == integration_id, INTEGRATION.c.organization_id == organization_id
        )
        row = (await self._s.execute(stmt)).first()
        return _integration(row) if row else None

    async def find(
        self, organization_id: str, *, platform: Platform | None = None, connected_only: bool = False
    ) -> list[Integration]:
        stmt = select(INTEGRATION).where(INTEGRATION.c.organization_id == organization_id)
        if platform:
            stmt = stmt.where(INTEGRATION.c.provider_identifier == platform.value)
        if connected_only:
            stmt = stmt.where(INTEGRATION.c.disabled.is_(False), INTEGRATION.c.refresh_needed.is_(False))
        rows = (await self._s.execute(stmt.order_by(INTEGRATION.c.created_at, INTEGRATION.c.id))).all()
        return [_integration(r) for r in rows]

    async def update(self, integration: Integration) -> None:
        values = integration.model_dump(exclude={"id", "organization_id", "created_at"})
        await self._s.execute(
            update(INTEGRATION)
            .where(INTEGRATION.c.id == integration.id, INTEGRATION.c.organization_id == integration.organization_id)
            .values(values)
        )

    async def delete(self, organization_id: str, integration_id: str) -> None:
        await self._s.execute(
            delete(INTEGRATION).where(
                INTEGRATION.c.id == integration_id, INTEGRATION.c.organization_id == organization_id
            )
        )


class SqlMappingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, mapping: Mapping) -> None:
        try:
            async with self._s.begin_nested():
                await self._s.execute(insert(MAPPING).values(mapping.model_dump()))
        except IntegrityError as exc:
            raise Conflict("This soul is already mapped to this integration.", code="mapping_exists") from exc

    async def get(self, organization_id: str, mapping_id: str) -> Mapping | None:
        stmt = select(MAPPING).where(MAPPING.c.id == mapping_id, MAPPING.c.organization_id == organization_id)
        row = (await self._s.execute(stmt)).first()
        return _mapping(row) if row else None

    async def get_pair(self, organization_id: str, soul_id: str, integration_id: str) -> Mapping | None:
        stmt = select(MAPPING).where(
            MAPPING.c.organization_id == organization_id,
            MAPPING.c.soul_id == soul_id,
            MAPPING.c.integration_id == integration_id,
        )
        row = (await self._s.execute(stmt)).first()
        return _mapping(row) if row else None

    async def for_souls(self, organization_id: str, soul_ids: list[str]) -> list[Mapping]:
        if not soul_ids:
            return []
        stmt = (
            select(MAPPING)
            .where(MAPPING.c.organization_id == organization_id, MAPPING.c.soul_id.in_(soul_ids))
            .order_by(MAPPING.c.soul_id, MAPPING.c.priority.desc(), MAPPING.c.created_at, MAPPING.c.id)
        )
        return [_mapping(r) for r in (await self._s.execute(stmt)).all()]

    async def for_integration(self, organization_id: str, integration_id: str) -> list[Mapping]:
        stmt = (
            select(MAPPING)
            .where(MAPPING.c.organization_id == organization_id, MAPPING.c.integration_id == integration_id)
            .order_by(MAPPING.c.created_at, MAPPING.c.id)
        )
        return [_mapping(r) for r in (await self._s.execute(stmt)).all()]

    async def update(self, mapping: Mapping) -> None:
        values = mapping.model_dump(exclude={"id", "organization_id", "created_at"})
        try:
            async with self._s.begin_nested():
                await self._s.execute(
                    update(MAPPING)
                    .where(MAPPING.c.id == mapping.id, MAPPING.c.organization_id == mapping.organization_id)
                    .values(values)
                )
        except IntegrityError as exc:  # two "set primary" for one soul and platform at once: the index keeps one
            raise Conflict(
                "Another mapping of this soul and platform became primary at the same moment; retry.",
                code="concurrent_change",
            ) from exc

    async def delete(self, organization_id: str, mapping_id: str) -> None:
        await self._s.execute(
            delete(MAPPING).where(MAPPING.c.id == mapping_id, MAPPING.c.organization_id == organization_id)
        )

    async def demote_primary(self, organization_id: str, soul_id: str, platform: Platform) -> None:
        await self._s.execute(
            update(MAPPING)
            .where(
                MAPPING.c.organization_id == organization_id,
                MAPPING.c.soul_id == soul_id,
                MAPPING.c.platform == platform.value,
                MAPPING.c.is_primary.is_(True),
            )
            .values(is_primary=False)
        )

    async def has_primary(self, organization_id: str, soul_id: str, platform: Platform) -> bool:
        stmt = select(MAPPING.c.id).where(
            MAPPING.c.organization_id == organization_id,
            MAPPING.c.soul_id == soul_id,
            MAPPING.c.platform == platform.value,
            MAPPING.c.is_primary.is_(True),
        )
        return (await self._s.execute(stmt)).first() is not None

    async def set_account(self, organization_id: str, integration_id: str, account_id: str | None) -> int:
        result = await self._s.execute(
            update(MAPPING)
            .where(MAPPING.c.organization_id == organization_id, MAPPING.c.integration_id == integration_id)
            .values(account_id=account_id)
        )
        return int(getattr(result, "rowcount", 0))

    async def forget_account(self, organization_id: str, account_id: str) -> int:
        result = await self._s.execute(
            update(MAPPING)
            .where(MAPPING.c.organization_id == organization_id, MAPPING.c.account_id == account_id)
            .values(account_id=None)
        )
        return int(getattr(result, "rowcount", 0))


class SqlOAuthStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, state: OAuthState) -> None:
        await self._s.execute(insert(OAUTH_STATE).values(state.model_dump()))

    async def take(self, state_digest: str, at: datetime) -> OAuthState | None:
        # Conditional update first: of two concurrent callbacks with one state, exactly one gets it.
        result = await self._s.execute(
            update(OAUTH_STATE)
            .where(OAUTH_STATE.c.state_digest == state_digest, OAUTH_STATE.c.used_at.is_(None))
            .values(used_at=at)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        row = (await self._s.execute(select(OAUTH_STATE).where(OAUTH_STATE.c.state_digest == state_digest))).first()
        return OAuthState.model_validate(dict(row._mapping)) if row else None

    async def purge_expired(self, before: datetime) -> int:
        result = await self._s.execute(delete(OAUTH_STATE).where(OAUTH_STATE.c.expires_at < before))
        return int(getattr(result, "rowcount", 0))


class SqlPlatformAppRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, app: PlatformApp) -> bool:
        try:
            async with self._s.begin_nested():
                await self._s.execute(insert(PLATFORM_APP).values(app.model_dump()))
        except IntegrityError:  # registered at the same moment by another request: theirs is the one to use
            return False
        return True

    async def get(self, platform: Platform, api_base: str, redirect_uri: str) -> PlatformApp | None:
        stmt = select(PLATFORM_APP).where(
            PLATFORM_APP.c.platform == platform.value,
            PLATFORM_APP.c.api_base == api_base,
            PLATFORM_APP.c.redirect_uri == redirect_uri,
        )
        row = (await self._s.execute(stmt)).first()
        return PlatformApp.model_validate(dict(row._mapping)) if row else None

    async def for_instance(self, platform: Platform, api_base: str) -> list[PlatformApp]:
        stmt = (
            select(PLATFORM_APP)
            .where(PLATFORM_APP.c.platform == platform.value, PLATFORM_APP.c.api_base == api_base)
            .order_by(PLATFORM_APP.c.created_at.desc(), PLATFORM_APP.c.id.desc())
        )
        return [PlatformApp.model_validate(dict(r._mapping)) for r in (await self._s.execute(stmt)).all()]
