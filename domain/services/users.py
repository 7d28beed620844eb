"""Managing the users of an organization: owners and admins add or invite; nobody outranks themselves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from domain.audit import AuditAction
from domain.auth import ActorType, Principal, Role
from domain.clock import Clock
from domain.errors import Conflict, Forbidden, NotFound
from domain.ids import new_id
from domain.organizations import User, normalize_email
from domain.pagination import Page, PageRequest
from domain.ports import PasswordHasher, UnitOfWork
from domain.services import audit
from domain.tokens import digest, new_opaque_token


@dataclass(frozen=True, slots=True)
class NewUser:
    email: str
    name: str
    role: Role
    password: str | None  # None: invite, the user chooses a password when accepting


@dataclass(frozen=True, slots=True)
class UserChanges:
    name: str | None = None
    role: Role | None = None
    is_active: bool | None = None


def _may_manage(actor: Role, target: Role) -> bool:
    """Owners manage everyone; admins manage members only."""
    return actor is Role.OWNER or (actor is Role.ADMIN and target is Role.MEMBER)


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only owners and admins can manage users.", code="role_required")


class UserService:
    def __init__(
        self,
        *,
        hasher: PasswordHasher,
        clock: Clock,
        invitation_ttl_s: int,
        on_access_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._access_changed = on_access_changed
        self._hasher = hasher
        self._clock = clock
        self._invitation_ttl = timedelta(seconds=invitation_ttl_s)

    async def list(self, uow: UnitOfWork, principal: Principal, page: PageRequest) -> Page[User]:
        return await uow.users.list(principal.organization_id, page)

    async def get(self, uow: UnitOfWork, principal: Principal, user_id: str) -> User:
        user = await uow.users.get(principal.organization_id, user_id)
        if user is None:
            raise NotFound("User", user_id)
        return user

    async def create(
        self, uow: UnitOfWork, principal: Principal, data: NewUser, *, ip: str | None
    ) -> tuple[User, str | None]:
        """Returns the user and, for an invitation, the one-time invitation token."""
        _require_admin(principal)
        if not _may_manage(principal.role, data.role):
            raise Forbidden(
                f"A {principal.role.value} cannot add a user with role {data.role.value}.",
                code="role_too_high",
            )
        email = normalize_email(data.email)
        if await uow.users.get_by_email(email) is not None:
            raise Conflict("A user with this email already exists.", code="email_taken")
        now = self._clock.now()
        token = None if data.password else new_opaque_token("inv")
        user = User(
            id=new_id(),
            organization_id=principal.organization_id,
            email=email,
            name=data.name.strip(),
            role=data.role,
            password_hash=self._hasher.hash(data.password) if data.password else None,
            invitation_digest=digest(token) if token else None,
            invitation_expires_at=now + self._invitation_ttl if token else None,
            created_at=now,
            updated_at=now,
        )
        await uow.users.add(user)
        await audit.record(
            uow,
            organization_id=principal.organization_id,
            actor=principal,
            action=AuditAction.USER_INVITE if token else AuditAction.USER_CREATE,
            target_type="user",
            target_id=user.id,
            ip=ip,
            details={"email": email, "role": data.role.value},
        )
        await uow.commit()
        return user, token

    async def update(
        self, uow: UnitOfWork, principal: Principal, user_id: str, changes: UserChanges, *, ip: str | None
    ) -> User:
        user = await self.get(uow, principal, user_id)
        is_self = principal.actor_type is ActorType.USER and principal.actor_id == user.id
        only_name = changes.role is None and changes.is_active is None
        if not (is_self and only_name):
            _require_admin(principal)
            if not _may_manage(principal.role, user.role) or (
                changes.role is not None and not _may_manage(principal.role, changes.role)
            ):
                raise Forbidden("You cannot change a user of this role.", code="role_too_high")
        demotes_owner = user.role is Role.OWNER and (
            (changes.role is not None and changes.role is not Role.OWNER) or changes.is_active is False
        )
        if demotes_owner and await uow.users.count_active_owners(user.organization_id) <= 1:
            raise Conflict("The organization must keep at least one active owner.", code="last_owner")
        before = {"name": user.name, "role": user.role.value, "isActive": user.is_active}
        if changes.name is not None:
            user.name = changes.name.strip()
        if changes.role is not None:
            user.role = changes.role
        if changes.is_active is not None:
            user.is_active = changes.is_active
        now = self._clock.now()
        user.updated_at = now
        await uow.users.update(user)
        if changes.is_active is False:
            await uow.refresh_tokens.revoke_user(user.id, now)
        after = {"name": user.name, "role": user.role.value, "isActive": user.is_active}
        await audit.record(
            uow,
            organization_id=principal.organization_id,
            actor=principal,
            action=AuditAction.USER_UPDATE,
            target_type="user",
            target_id=user.id,
            ip=ip,
            details={k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]},
        )
        await uow.commit()
        self._access_changed()
        return user

    async def delete(self, uow: UnitOfWork, principal: Principal, user_id: str, *, ip: str | None) -> None:
        _require_admin(principal)
        user = await self.get(uow, principal, user_id)
        if principal.actor_type is ActorType.USER and principal.actor_id == user.id:
            raise Conflict("You cannot delete yourself.", code="cannot_delete_self")
        if not _may_manage(principal.role, user.role):
            raise Forbidden("You cannot delete a user of this role.", code="role_too_high")
        if user.role is Role.OWNER and await uow.users.count_active_owners(user.organization_id) <= 1:
            raise Conflict("The organization must keep at least one active owner.", code="last_owner")
        await uow.refresh_tokens.revoke_user(user.id, self._clock.now())
        await uow.users.delete(principal.organization_id, user.id)
        await audit.record(
            uow,
            organization_id=principal.organization_id,
            actor=principal,
            action=AuditAction.USER_DELETE,
            target_type="user",
            target_id=user.id,
            ip=ip,
            details={"email": user.email},
        )
        await uow.commit()
        self._access_changed()
