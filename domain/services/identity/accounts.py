"""Accounts: credentials sealed on the way in, described (never returned) on the way out, revealed to owners and
admins only, and every credential change, reveal, TOTP read and proxy change audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pyotp

from domain.auth import Principal
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.identity.accounts import Account, AccountFilter, AccountStatus
from domain.identity.credentials import CredentialValue, open_all, open_one, seal_changes
from domain.identity.platforms import Platform, normalize_handle
from domain.identity.ports import IntegrationLinked
from domain.identity.warming import parse_config
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.ports import FieldSealer
from domain.services import audit
from domain.services.identity.changes import apply_over_read
from domain.services.identity.souls import IdentityContext

# Called after an account is created (before = None) or updated: the warming schedule follows the status.
AccountChangeHook = Callable[[Account | None, Account], Awaitable[None]]


class AccountService:
    def __init__(self, ctx: IdentityContext, sealer: FieldSealer, on_change: AccountChangeHook | None = None) -> None:
        self._ctx = ctx
        self._sealer = sealer
        self._on_change = on_change

    async def _audit(self, principal: Principal, action: str, account_id: str, ip: str | None, **details: Any) -> None:
        await audit.record_now(
            self._ctx.uows, organization_id=principal.organization_id, actor=principal, action=action,
            target_type="account", target_id=account_id, ip=ip, details=details,
        )  # fmt: skip

    async def create(
        self, principal: Principal, values: dict[str, Any], credentials: dict[str, CredentialValue], *, ip: str | None
    ) -> Account:
        _risk_changes(principal, values)
        platform = Platform.parse(values.pop("platform"))
        handle = normalize_handle(platform, values.pop("handle"))
        _check_warming(values.get("warming_config"), values.get("status"))
        now = self._ctx.clock.now()
        account = Account(
            id=new_id(), organization_id=principal.organization_id, platform=platform, handle=handle,
            created_at=now, updated_at=now, **values,
        )  # fmt: skip
        sealed, count = seal_changes(self._sealer, account, credentials)
        account = account.model_copy(update={"credentials": sealed, "backup_codes_count": count})
        account = await self._ctx.store.accounts.add(account)
        if credentials:
            await self._audit(principal, "account.credentials_set", account.id, ip, fields=sorted(credentials))
        if account.proxy_id:
            await self._audit(principal, "account.proxy_assign", account.id, ip, proxyId=account.proxy_id)
        if self._on_change is not None:
            await self._on_change(None, account)
        return account

    async def get(self, principal: Principal, account_id: str) -> Account:
        account = await self._ctx.store.accounts.get(principal.organization_id, account_id)
        if account is None:
            raise NotFound("Account", account_id)
        return account

    async def find(self, principal: Principal, filters: AccountFilter, page: PageRequest) -> Page[Account]:
        return await self._ctx.store.accounts.find(principal.organization_id, filters, page)

    async def update(
        self,
        principal: Principal,
        account_id: str,
        changes: dict[str, Any],
        credentials: dict[str, CredentialValue] | None,
        *,
        ip: str | None,
    ) -> Account:

        async def write(account: Account) -> tuple[Account, Account, dict[str, Any], dict[str, Any]]:
            applied = dict(changes)
            risk = self._prepare(principal, account, applied, credentials)
            updated = await self._ctx.store.accounts.update(
                Account.model_validate(account.model_copy(update=applied).model_dump()),
                expected_updated_at=account.updated_at,
            )
            return account, updated, applied, risk

        account, updated, applied, risk = await apply_over_read(lambda: self.get(principal, account_id), write)
        if credentials:
            await self._audit(principal, "account.credentials_set", account.id, ip, fields=sorted(credentials))
        if "proxy_id" in applied and applied["proxy_id"] != account.proxy_id:
            await self._audit_proxy_change(principal, account, applied["proxy_id"], ip)
        if risk:
            await self._audit(principal, "account.risk_limits", account.id, ip, **risk)
        if self._on_change is not None:
            await self._on_change(account, updated)
        return updated

    def _prepare(
        self,
        principal: Principal,
        account: Account,
        changes: dict[str, Any],
        credentials: dict[str, CredentialValue] | None,
    ) -> dict[str, Any]:
        """Complete `changes` to apply over `account` as read (parsed platform, normalized handle, sealed
        credentials, the time); returns the risk limit changes to audit."""
        _check_warming(changes.get("warming_config", account.warming_config), changes.get("status", account.status))
        if "platform" in changes:
            changes["platform"] = Platform.parse(changes["platform"])
        platform = changes.get("platform", account.platform)
        if "handle" in changes or "platform" in changes:
            changes["handle"] = normalize_handle(platform, changes.get("handle", account.handle))
        if credentials:
            changes["credentials"], changes["backup_codes_count"] = seal_changes(self._sealer, account, credentials)
        risk = _risk_changes(principal, changes)
        changes["updated_at"] = self._ctx.clock.now()
        return risk

    async def set_proxy(
        self, principal: Principal, account_id: str, proxy_id: str | None, *, ip: str | None
    ) -> Account:
        async def write(account: Account) -> tuple[Account, Account | None]:
            if account.proxy_id == proxy_id:
                return account, None
            changed = account.model_copy(update={"proxy_id": proxy_id, "updated_at": self._ctx.clock.now()})
            return account, await self._ctx.store.accounts.update(changed, expected_updated_at=account.updated_at)

        account, updated = await apply_over_read(lambda: self.get(principal, account_id), write)
        if updated is None:
            return account
        await self._audit_proxy_change(principal, account, proxy_id, ip)
        return updated

    async def _audit_proxy_change(
        self, principal: Principal, account: Account, proxy_id: str | None, ip: str | None
    ) -> None:
        if proxy_id is None:
            await self._audit(principal, "account.proxy_unassign", account.id, ip, proxyId=account.proxy_id)
        else:
            await self._audit(
                principal, "account.proxy_assign", account.id, ip, proxyId=proxy_id, previousProxyId=account.proxy_id
            )

    async def set_integration(
        self, principal: Principal, account_id: str, integration_id: str | None, *, ip: str | None
    ) -> Account:
        """Link the account 1:1 to its channel (same platform), or unlink it; mappings of the channel follow."""
        org = principal.organization_id
        account = await self.get(principal, account_id)
        changed = account.integration_id != integration_id
        if changed and integration_id is not None:
            async with self._ctx.uows.reading() as uow:
                integration = await uow.integrations.get(org, integration_id)
            if integration is None:
                raise InvalidInput(f"Integration {integration_id!r} does not exist.", field="integrationId",
                                   code="integration_not_found")  # fmt: skip
            if integration.provider_identifier is not account.platform:
                raise InvalidInput(
                    f"A {account.platform.value} account cannot link to a "
                    f"{integration.provider_identifier.value} integration.",
                    field="integrationId",
                    code="platform_mismatch",
                )
            linked = await self._ctx.store.accounts.linked_to(org, integration_id)
            if linked is not None and linked.id != account.id:
                raise IntegrationLinked(integration_id, linked.id)
        updated = account
        if changed:
            # Only from the link read above: of concurrent changes of this account's link, one wins (LinkChanged).
            updated = await self._ctx.store.accounts.set_integration(
                org, account.id, integration_id, expected=account.integration_id, updated_at=self._ctx.clock.now()
            )
        # The relational side follows the document side; rerunning a link repairs a half-applied one.
        async with self._ctx.uows() as uow:
            if changed and account.integration_id:
                await uow.mappings.set_account(org, account.integration_id, None)
            if integration_id:
                # A mapping may have named the account while it was unlinked; linked now, it is this channel's only.
                await uow.mappings.forget_account(org, account.id)
                await uow.mappings.set_account(org, integration_id, account.id)
            await uow.commit()
        if changed:
            action = "account.integration_link" if integration_id else "account.integration_unlink"
            await self._audit(principal, action, account.id, ip, integrationId=integration_id or account.integration_id)
            if self._on_change is not None:
                await self._on_change(account, updated)
        return updated

    async def delete(self, principal: Principal, account_id: str, *, ip: str | None) -> None:
        account = await self.get(principal, account_id)
        # Mappings first: a delete that dies in between leaves the account, and a retry finishes the job.
        async with self._ctx.uows() as uow:
            await uow.mappings.forget_account(principal.organization_id, account_id)
            await uow.commit()
        await self._ctx.store.accounts.delete(principal.organization_id, account_id)
        await self._audit(principal, "account.delete", account_id, ip, platform=account.platform.value,
                          handle=account.handle, soulId=account.soul_id)  # fmt: skip

    async def reveal(self, principal: Principal, account_id: str, *, ip: str | None) -> dict[str, Any]:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins can reveal credentials.", code="role_required")
        account = await self.get(principal, account_id)
        revealed = open_all(self._sealer, account)
        await self._audit(principal, "account.credentials_reveal", account_id, ip, fields=sorted(revealed))
        return revealed

    async def totp(self, principal: Principal, account_id: str, *, ip: str | None) -> tuple[str, int]:
        """The current 2FA code and the seconds it stays valid."""
        account = await self.get(principal, account_id)
        secret = open_one(self._sealer, account, "twoFactorSecret")
        if secret is None:
            raise Conflict("This account has no 2FA secret stored.", code="no_two_factor_secret")
        totp = pyotp.TOTP(secret)
        now = self._ctx.clock.now()
        await self._audit(principal, "account.totp_read", account_id, ip)
        return totp.at(now), totp.interval - int(now.timestamp()) % totp.interval


_OPERATOR_COOLDOWN = "an operator set it"


def _risk_changes(principal: Principal, changes: dict[str, Any]) -> dict[str, Any]:
    """Risk limit changes (to audit, in API names): anyone may set the daily limit; only owners and admins set or
    clear a cooldown or the warnings. A cooldown set here says so."""
    if ("cooldown_until" in changes or "warning_count" in changes) and not principal.is_admin:
        raise Forbidden("Only owners and admins can set or clear an account's cooldown and warnings.",
                        code="role_required")  # fmt: skip
    if "cooldown_until" in changes:
        changes["cooldown_reason"] = _OPERATOR_COOLDOWN if changes["cooldown_until"] is not None else None
    names = {"daily_post_limit": "dailyPostLimit", "cooldown_until": "cooldownUntil", "warning_count": "warningCount"}
    return {
        api: value.isoformat() if hasattr(value, "isoformat") else value
        for name, api in names.items()
        if name in changes
        for value in (changes[name],)
    }


def _check_warming(config: dict[str, Any] | None, status: object) -> None:
    """A warmingConfig sent, or an account set to warming, must hold a valid plan (422 naming the field)."""
    if config or status == AccountStatus.WARMING:
        parse_config(config)
