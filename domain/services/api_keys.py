"""Organization API keys: created by owners and admins, shown once, accepted as X-API-Key."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta

from domain.api_keys import ApiKey
from domain.audit import AuditAction
from domain.auth import ActorType, Principal, Role
from domain.clock import Clock
from domain.errors import Forbidden, NotFound, Unauthorized
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.services import audit
from domain.tokens import digest, new_opaque_token

_PREFIX_LEN = 12
# Writing last_used_at on every request would turn each read into a write; once a minute is precise enough.
_TOUCH_INTERVAL = timedelta(seconds=60)


class ApiKeyService:
    def __init__(self, *, clock: Clock, on_access_changed: Callable[[], None] = lambda: None) -> None:
        self._clock = clock
        self._access_changed = on_access_changed

    async def create(
        self, uow: UnitOfWork, principal: Principal, name: str, role: Role, *, ip: str | None
    ) -> tuple[ApiKey, str]:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins can create API keys.", code="role_required")
        if role is Role.OWNER or not principal.role.at_least(role):
            raise Forbidden(f"An API key cannot have role {role.value}.", code="role_too_high")
        raw = new_opaque_token("sk")
        now = self._clock.now()
        key = ApiKey(
            id=new_id(),
            organization_id=principal.organization_id,
            name=name.strip(),
            prefix=raw[:_PREFIX_LEN],
            key_digest=digest(raw),
            role=role,
            created_by=principal.actor_id,
            created_at=now,
        )
        await uow.api_keys.add(key)
        await audit.record(
            uow,
            organization_id=principal.organization_id,
            actor=principal,
            action=AuditAction.API_KEY_CREATE,
            target_type="api_key",
            target_id=key.id,
            ip=ip,
            details={"name": key.name, "role": role.value},
        )
        await uow.commit()
        return key, raw

    async def list(self, uow: UnitOfWork, principal: Principal, page: PageRequest) -> Page[ApiKey]:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins can list API keys.", code="role_required")
        return await uow.api_keys.list(principal.organization_id, page)

    async def delete(self, uow: UnitOfWork, principal: Principal, key_id: str, *, ip: str | None) -> None:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins can delete API keys.", code="role_required")
        key = await uow.api_keys.get(principal.organization_id, key_id)
        if key is None:
            raise NotFound("API key", key_id)
        await uow.api_keys.delete(principal.organization_id, key_id)
        await audit.record(
            uow,
            organization_id=principal.organization_id,
            actor=principal,
            action=AuditAction.API_KEY_DELETE,
            target_type="api_key",
            target_id=key.id,
            ip=ip,
            details={"name": key.name},
        )
        await uow.commit()
        self._access_changed()

    async def authenticate(self, uow: UnitOfWork, raw: str) -> Principal:
        key = await uow.api_keys.get_by_prefix(raw[:_PREFIX_LEN]) if len(raw) > _PREFIX_LEN else None
        if key is None or not hmac.compare_digest(key.key_digest, digest(raw)):
            raise Unauthorized("The API key is invalid.", code="api_key_invalid")
        now = self._clock.now()
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_INTERVAL:
            await uow.api_keys.touch(key.id, now)
            await uow.commit()
        return Principal(
            actor_type=ActorType.API_KEY, actor_id=key.id, organization_id=key.organization_id, role=key.role
        )
