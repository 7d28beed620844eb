"""Registration, login, token refresh with rotation and reuse detection, logout, invitations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from domain.audit import AuditAction
from domain.auth import AccessClaims, ActorType, Principal, Role
from domain.clock import Clock
from domain.errors import Conflict, TooManyRequests, Unauthorized
from domain.ids import new_id
from domain.organizations import Organization, User, normalize_email
from domain.ports import PasswordHasher, UnitOfWork
from domain.services import audit
from domain.sessions import RefreshToken
from domain.tokens import TokenIssuer, digest, new_opaque_token


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures_per_account: int
    max_failures_per_client: int
    window_s: int
    cooldown_s: int


@dataclass(frozen=True, slots=True)
class Registration:
    email: str
    password: str
    name: str
    organization_name: str


_BAD_CREDENTIALS = "The email or password is incorrect."


async def _audit_self(uow: UnitOfWork, user: User, action: str, ip: str | None) -> None:
    """An entry where the user acted on their own account (sign-up, sign-in, failed sign-in, accepted invitation)."""
    await audit.record(
        uow, organization_id=user.organization_id, action=action, actor_type=ActorType.USER, actor_id=user.id,
        target_type="user", target_id=user.id, ip=ip,
    )  # fmt: skip


class AuthService:
    def __init__(
        self,
        *,
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        clock: Clock,
        login_policy: LoginPolicy,
        refresh_ttl_s: int,
        on_access_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._access_changed = on_access_changed
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock
        self._policy = login_policy
        self._refresh_ttl = timedelta(seconds=refresh_ttl_s)

    async def register(self, uow: UnitOfWork, data: Registration, *, ip: str | None) -> TokenPair:
        email = normalize_email(data.email)
        if await uow.users.get_by_email(email) is not None:
            raise Conflict("An account with this email already exists.", code="email_taken")
        now = self._clock.now()
        org = Organization(id=new_id(), name=data.organization_name.strip(), created_at=now, updated_at=now)
        user = User(
            id=new_id(),
            organization_id=org.id,
            email=email,
            name=data.name.strip(),
            role=Role.OWNER,
            password_hash=self._hasher.hash(data.password),
            last_login_at=now,
            created_at=now,
            updated_at=now,
        )
        await uow.organizations.add(org)
        await uow.users.add(user)
        await _audit_self(uow, user, AuditAction.REGISTER, ip)
        pair = await self._start_session(uow, user)
        await uow.commit()
        return pair

    async def login(self, uow: UnitOfWork, email: str, password: str, *, ip: str | None) -> TokenPair:
        email = normalize_email(email)
        keys = [f"account:{email}"] + ([f"client:{ip}"] if ip else [])
        now = self._clock.now()
        wait = await uow.login_throttle.locked_for(keys, now)
        if wait > 0:
            raise TooManyRequests(
                "Too many failed sign-in attempts. Try again later.", retry_after_s=wait, code="login_locked"
            )
        user = await uow.users.get_by_email(email)
        # Always run one password verification so an unknown email answers as slowly as a wrong password.
        ok = self._hasher.verify(user.password_hash if user else None, password)
        if not ok or user is None or not user.is_active:
            await self._record_failure(uow, keys, user, ip)
            await uow.commit()
            raise Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")
        await uow.login_throttle.clear(keys[0])
        if user.password_hash and self._hasher.needs_rehash(user.password_hash):
            user.password_hash = self._hasher.hash(password)
        user.last_login_at = now
        user.updated_at = now
        await uow.users.update(user)
        await _audit_self(uow, user, AuditAction.LOGIN, ip)
        pair = await self._start_session(uow, user)
        await uow.commit()
        return pair

    async def refresh(self, uow: UnitOfWork, refresh_token: str, *, ip: str | None) -> TokenPair:
        now = self._clock.now()
        stored = await uow.refresh_tokens.get_by_digest(digest(refresh_token))
        invalid = Unauthorized("The refresh token is invalid or expired.", code="refresh_token_invalid")
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise invalid
        if stored.used_at is not None or not await uow.refresh_tokens.mark_used(stored.id, now):
            # A used token presented again: someone holds a copy. End every session of this family.
            await uow.refresh_tokens.revoke_family(stored.family_id, now)
            await audit.record(
                uow,
                organization_id=stored.organization_id,
                action=AuditAction.REFRESH_REUSE,
                actor_type=ActorType.USER,
                actor_id=stored.user_id,
                target_type="session",
                target_id=stored.family_id,
                ip=ip,
            )
            await uow.commit()
            self._access_changed()
            raise invalid
        user = await uow.users.get(stored.organization_id, stored.user_id)
        if user is None or not user.is_active:
            await uow.refresh_tokens.revoke_family(stored.family_id, now)
            await uow.commit()
            raise invalid
        pair = await self._issue(uow, user, stored.family_id)
        await uow.commit()
        return pair

    async def logout(self, uow: UnitOfWork, principal: Principal, refresh_token: str | None, *, ip: str | None) -> None:
        now = self._clock.now()
        families = {principal.session_id} if principal.session_id else set()
        if refresh_token:
            stored = await uow.refresh_tokens.get_by_digest(digest(refresh_token))
            if stored and stored.user_id == principal.actor_id:
                families.add(stored.family_id)
        for family in families:
            await uow.refresh_tokens.revoke_family(family, now)
        await audit.record(
            uow,
            organization_id=principal.organization_id,
            action=AuditAction.LOGOUT,
            actor=principal,
            target_type="session",
            target_id=principal.session_id,
            ip=ip,
        )
        await uow.commit()
        self._access_changed()

    async def accept_invitation(
        self, uow: UnitOfWork, token: str, password: str, name: str | None, *, ip: str | None
    ) -> TokenPair:
        now = self._clock.now()
        user = await uow.users.get_by_invitation(digest(token))
        if user is None or user.invitation_expires_at is None or user.invitation_expires_at <= now:
            raise Unauthorized("The invitation is invalid or has expired.", code="invitation_invalid")
        user.password_hash = self._hasher.hash(password)
        user.invitation_digest = None
        user.invitation_expires_at = None
        if name:
            user.name = name.strip()
        user.last_login_at = now
        user.updated_at = now
        await uow.users.update(user)
        await _audit_self(uow, user, AuditAction.INVITATION_ACCEPTED, ip)
        pair = await self._start_session(uow, user)
        await uow.commit()
        return pair

    async def _record_failure(self, uow: UnitOfWork, keys: list[str], user: User | None, ip: str | None) -> None:
        now = self._clock.now()
        limits = [self._policy.max_failures_per_account, self._policy.max_failures_per_client]
        for key, limit in zip(keys, limits, strict=False):
            await uow.login_throttle.record_failure(
                key, now, limit=limit, window_s=self._policy.window_s, cooldown_s=self._policy.cooldown_s
            )
        if user is not None:
            await _audit_self(uow, user, AuditAction.LOGIN_FAILED, ip)

    async def _start_session(self, uow: UnitOfWork, user: User) -> TokenPair:
        return await self._issue(uow, user, new_id())

    async def _issue(self, uow: UnitOfWork, user: User, family_id: str) -> TokenPair:
        now = self._clock.now()
        raw = new_opaque_token("srt")
        await uow.refresh_tokens.add(
            RefreshToken(
                id=new_id(),
                user_id=user.id,
                organization_id=user.organization_id,
                family_id=family_id,
                token_digest=digest(raw),
                expires_at=now + self._refresh_ttl,
                created_at=now,
            )
        )
        access = self._tokens.issue_access(
            AccessClaims(user_id=user.id, organization_id=user.organization_id, role=user.role, session_id=family_id),
            now,
        )
        return TokenPair(access_token=access, refresh_token=raw, expires_in=self._tokens.ttl_s)
