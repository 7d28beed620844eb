"""A platform flagged an account (risk limits, domain/identity/risk.py): its rate-limit or spam answer raises the
account's warningCount and starts a cooldown, audited. Publishing and warming both call this, so an account flagged
while warming cools down exactly as one flagged while publishing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.auth import ActorType
from domain.channels.connectors import ConnectorError, InvalidContent, RateLimited
from domain.clock import Clock
from domain.identity.accounts import Account
from domain.identity.ports import DocumentStore
from domain.identity.risk import FLAGGED, PlatformFlag, cooldown_after
from domain.ports import UnitOfWorkFactory
from domain.services import audit


def platform_flag(exc: ConnectorError) -> tuple[PlatformFlag, float | None] | None:
    """What the platform's answer flagged, with its reset time when it gave one; None for any other error."""
    if isinstance(exc, RateLimited):
        return PlatformFlag.RATE_LIMIT, exc.retry_after_s
    if isinstance(exc, InvalidContent) and exc.spam:
        return PlatformFlag.SPAM, None
    return None


@dataclass(frozen=True)
class RiskFlags:
    store: DocumentStore
    uows: UnitOfWorkFactory
    clock: Clock
    rate_limit_cooldown_s: float = 900.0
    spam_cooldown_s: float = 86400.0

    async def flagged(
        self, organization_id: str, account_id: str | None, exc: ConnectorError, details: dict[str, Any]
    ) -> Account | None:
        """One more warning and a cooldown when `exc` is a rate-limit or spam answer; the account as it is now, or
        None when nothing was flagged (another error, no account). `details` say where it happened, for the audit."""
        flag = platform_flag(exc)
        if flag is None or account_id is None:
            return None
        kind, retry_after_s = flag
        now = self.clock.now()
        until = cooldown_after(
            kind, now, retry_after_s=retry_after_s, rate_limit_s=self.rate_limit_cooldown_s,
            spam_s=self.spam_cooldown_s,
        )  # fmt: skip
        account = await self.store.accounts.record_warning(
            organization_id, account_id, cooldown_until=until, reason=FLAGGED[kind], updated_at=now
        )
        if account is None:
            return None
        cooldown = account.cooldown_until.isoformat() if account.cooldown_until else None
        await audit.record_now(
            self.uows, organization_id=organization_id, actor_type=ActorType.SYSTEM,
            action="account.cooldown", target_type="account", target_id=account.id,
            details={"flag": kind.value, **details, "warningCount": account.warning_count, "cooldownUntil": cooldown},
        )  # fmt: skip
        return account
