"""SQL implementations of the relational repository ports."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from adapters.sql.pagination import keyset_page
from adapters.sql.tables import (
    ApiKeyRow,
    AuditLogRow,
    LoginFailureRow,
    OrganizationRow,
    RefreshTokenRow,
    UserRow,
)
from domain.api_keys import ApiKey
from domain.audit import AuditEntry, AuditFilter
from domain.auth import Role
from domain.organizations import Organization, User
from domain.pagination import Page, PageRequest
from domain.sessions import RefreshToken


class SqlOrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, organization: Organization) -> None:
        self._s.add(OrganizationRow(**organization.model_dump()))
        await self._s.flush()

    async def get(self, organization_id: str) -> Organization | None:
        row = await self._s.get(OrganizationRow, organization_id)
        return Organization.model_validate(row, from_attributes=True) if row else None

    async def update(self, organization: Organization) -> None:
        row = await self._s.get(OrganizationRow, organization.id)
        if row is not None:
            for name, value in organization.model_dump(exclude={"id", "created_at"}).items():
                setattr(row, name, value)
            await self._s.flush()

    async def list_ids(self, after: str | None, limit: int) -> list[str]:
        stmt = select(OrganizationRow.id).order_by(OrganizationRow.id).limit(limit)  # type: ignore[call-overload]
        if after is not None:
            stmt = stmt.where(col(OrganizationRow.id) > after)
        return list((await self._s.execute(stmt)).scalars())


def _user(row: UserRow) -> User:
    return User.model_validate(row, from_attributes=True)


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, user: User) -> None:
        self._s.add(UserRow(**user.model_dump()))
        await self._s.flush()

    async def get(self, organization_id: str, user_id: str) -> User | None:
        row = await self._s.get(UserRow, user_id)
        return _user(row) if row and row.organization_id == organization_id else None

    async def get_by_email(self, email: str) -> User | None:
        row = (await self._s.execute(select(UserRow).where(col(UserRow.email) == email))).scalar_one_or_none()
        return _user(row) if row else None

    async def get_by_invitation(self, invitation_digest: str) -> User | None:
        stmt = select(UserRow).where(col(UserRow.invitation_digest) == invitation_digest)
        row = (await self._s.execute(stmt)).scalar_one_or_none()
        return _user(row) if row else None

    async def list(self, organization_id: str, page: PageRequest) -> Page[User]:
        stmt = select(UserRow).where(col(UserRow.organization_id) == organization_id)
        return await keyset_page(
            self._s, stmt, created_col=col(UserRow.created_at), id_col=col(UserRow.id), page=page, to_entity=_user
        )

    async def update(self, user: User) -> None:
        values = user.model_dump(exclude={"id", "organization_id", "created_at"})
        await self._s.execute(
            update(UserRow)
            .where(col(UserRow.id) == user.id, col(UserRow.organization_id) == user.organization_id)
            .values(**values)
        )

    async def delete(self, organization_id: str, user_id: str) -> None:
        await self._s.execute(
            delete(UserRow).where(col(UserRow.id) == user_id, col(UserRow.organization_id) == organization_id)
        )

    async def count_active_owners(self, organization_id: str) -> int:
        stmt = select(func.count()).where(
            col(UserRow.organization_id) == organization_id,
            col(UserRow.role) == Role.OWNER.value,
            col(UserRow.is_active).is_(True),
        )
        return int((await self._s.execute(stmt)).scalar_one())


class SqlRefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, token: RefreshToken) -> None:
        self._s.add(RefreshTokenRow(**token.model_dump()))
        await self._s.flush()

    async def get_by_digest(self, token_digest: str) -> RefreshToken | None:
        stmt = select(RefreshTokenRow).where(col(RefreshTokenRow.token_digest) == token_digest)
        row = (await self._s.execute(stmt)).scalar_one_or_none()
        return RefreshToken.model_validate(row, from_attributes=True) if row else None

    async def mark_used(self, token_id: str, at: datetime) -> bool:
        result = await self._s.execute(
            update(RefreshTokenRow)
            .where(col(RefreshTokenRow.id) == token_id, col(RefreshTokenRow.used_at).is_(None))
            .values(used_at=at)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def revoke_family(self, family_id: str, at: datetime) -> None:
        await self._s.execute(
            update(RefreshTokenRow)
            .where(col(RefreshTokenRow.family_id) == family_id, col(RefreshTokenRow.revoked_at).is_(None))
            .values(revoked_at=at)
        )

    async def revoke_user(self, user_id: str, at: datetime) -> None:
        await self._s.execute(
            update(RefreshTokenRow)
            .where(col(RefreshTokenRow.user_id) == user_id, col(RefreshTokenRow.revoked_at).is_(None))
            .values(revoked_at=at)
        )

    async def is_family_active(self, family_id: str, at: datetime) -> bool:
        stmt = (
            select(col(RefreshTokenRow.id))
            .where(
                col(RefreshTokenRow.family_id) == family_id,
                col(RefreshTokenRow.revoked_at).is_(None),
                col(RefreshTokenRow.expires_at) > at,
            )
            .limit(1)
        )
        return (await self._s.execute(stmt)).first() is not None


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey.model_validate(row, from_attributes=True)


class SqlApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, key: ApiKey) -> None:
        self._s.add(ApiKeyRow(**key.model_dump()))
        await self._s.flush()

    async def get(self, organization_id: str, key_id: str) -> ApiKey | None:
        row = await self._s.get(ApiKeyRow, key_id)
        return _api_key(row) if row and row.organization_id == organization_id else None

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        row = (await self._s.execute(select(ApiKeyRow).where(col(ApiKeyRow.prefix) == prefix))).scalar_one_or_none()
        return _api_key(row) if row else None

    async def list(self, organization_id: str, page: PageRequest) -> Page[ApiKey]:
        stmt = select(ApiKeyRow).where(col(ApiKeyRow.organization_id) == organization_id)
        return await keyset_page(
            self._s,
            stmt,
            created_col=col(ApiKeyRow.created_at),
            id_col=col(ApiKeyRow.id),
            page=page,
            to_entity=_api_key,
        )

    async def delete(self, organization_id: str, key_id: str) -> None:
        await self._s.execute(
            delete(ApiKeyRow).where(col(ApiKeyRow.id) == key_id, col(ApiKeyRow.organization_id) == organization_id)
        )

    async def touch(self, key_id: str, at: datetime) -> None:
        await self._s.execute(update(ApiKeyRow).where(col(ApiKeyRow.id) == key_id).values(last_used_at=at))


def _audit(row: AuditLogRow) -> AuditEntry:
    return AuditEntry.model_validate(row, from_attributes=True)


class SqlAuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, entry: AuditEntry) -> None:
        self._s.add(AuditLogRow(**entry.model_dump()))
        await self._s.flush()

    async def list(self, organization_id: str, filters: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        stmt = select(AuditLogRow).where(col(AuditLogRow.organization_id) == organization_id)
        if filters.action:
            stmt = stmt.where(col(AuditLogRow.action) == filters.action)
        if filters.actor_id:
            stmt = stmt.where(col(AuditLogRow.actor_id) == filters.actor_id)
        return await keyset_page(
            self._s,
            stmt,
            created_col=col(AuditLogRow.created_at),
            id_col=col(AuditLogRow.id),
            page=page,
            to_entity=_audit,
            newest_first=True,
        )

    async def delete_older_than(self, cutoff: datetime, batch_size: int) -> int:
        ids = (
            select(col(AuditLogRow.id)).where(col(AuditLogRow.created_at) < cutoff).limit(batch_size).scalar_subquery()
        )
        result = await self._s.execute(delete(AuditLogRow).where(col(AuditLogRow.id).in_(ids)))
        return int(getattr(result, "rowcount", 0))


class SqlLoginThrottle:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def locked_for(self, keys: list[str], now: datetime) -> int:
        stmt = select(func.max(col(LoginFailureRow.locked_until))).where(
            col(LoginFailureRow.key).in_(keys),
            col(LoginFailureRow.locked_until) > now,
        )
        until = (await self._s.execute(stmt)).scalar_one_or_none()
        if until is None:
            return 0
        # SQLite aggregates return raw values, bypassing the column type.
        until = until if isinstance(until, datetime) else datetime.fromisoformat(str(until))
        if until.tzinfo is None:
            until = until.replace(tzinfo=now.tzinfo)
        return max(1, math.ceil((until - now).total_seconds()))

    async def record_failure(self, key: str, now: datetime, *, limit: int, window_s: int, cooldown_s: int) -> None:
        row = await self._s.get(LoginFailureRow, key, with_for_update=True)
        if row is None:
            try:
                async with self._s.begin_nested():
                    row = LoginFailureRow(key=key, count=0, window_started_at=now)
                    self._s.add(row)
            except IntegrityError:  # another request created it first
                row = await self._s.get(LoginFailureRow, key, with_for_update=True, populate_existing=True)
                assert row is not None  # noqa: S101
        if now - row.window_started_at > timedelta(seconds=window_s):
            row.count, row.window_started_at = 0, now
        row.count += 1
        if row.count >= limit:
            row.locked_until = now + timedelta(seconds=cooldown_s)
            row.count, row.window_started_at = 0, now
        await self._s.flush()

    async def clear(self, key: str) -> None:
        await self._s.execute(delete(LoginFailureRow).where(col(LoginFailureRow.key) == key))
