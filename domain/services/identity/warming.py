"""Warming an account: start, pause, resume and inspect its schedule (`warming:{accountId}`), and keep the schedule in
step with the account: status `warming` runs it, `suspended`/`inactive` pause it with a note saying why, `active`
removes it; a failed proxy pauses the warming of its accounts and its recovery resumes exactly those; a channel that
needs reconnecting (or an unlinked one) pauses the warming of its account at once, and reconnecting (or linking) it
resumes what that paused. System pauses never take over a pause that is already there (an operator's, say)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from domain.auth import Principal
from domain.errors import Conflict, InvalidInput, NotFound
from domain.identity.accounts import Account, AccountStatus
from domain.identity.warming import (
    NOTE_CHANNEL,
    NOTE_INACTIVE,
    NOTE_NO_CHANNEL,
    NOTE_PROXY_PREFIX,
    NOTE_SUSPENDED,
    PLATFORM_ACTIONS,
    WarmingConfig,
    WarmingSchedules,
    day_number,
    is_done,
    local_date,
    parse_config,
    quota,
    zone,
)
from domain.services import audit
from domain.services.identity.changes import apply_over_read
from domain.services.identity.proxy_health import HealthChange
from domain.services.identity.souls import IdentityContext

log = logging.getLogger(__name__)


async def persona_timezone(ctx: IdentityContext, account: Account) -> str:
    """Soul → Persona → timezone; UTC when the soul has no persona."""
    soul = await ctx.store.souls.get(account.organization_id, account.soul_id)
    if soul is None or not soul.persona_id:
        return "UTC"
    persona = await ctx.store.personas.get(account.organization_id, soul.persona_id)
    return persona.timezone if persona is not None and persona.timezone else "UTC"


class WarmingService:
    def __init__(self, ctx: IdentityContext, schedules: WarmingSchedules) -> None:
        self._ctx = ctx
        self._schedules = schedules

    async def _account(self, principal: Principal, account_id: str) -> Account:
        account = await self._ctx.store.accounts.get(principal.organization_id, account_id)
        if account is None:
            raise NotFound("Account", account_id)
        return account

    async def _audit(self, principal: Principal, action: str, account_id: str, ip: str | None, **details: Any) -> None:
        await audit.record_now(
            self._ctx.uows, organization_id=principal.organization_id, actor=principal, action=action,
            target_type="account", target_id=account_id, ip=ip, details=details,
        )  # fmt: skip

    async def start(
        self, principal: Principal, account_id: str, raw: dict[str, Any] | None, *, ip: str | None
    ) -> dict[str, Any]:
        async def write(account: Account) -> tuple[Account, WarmingConfig, datetime]:
            if not PLATFORM_ACTIONS[account.platform]:
                raise InvalidInput(
                    f"{account.platform.value} allows no warming action through its API (no likes, follows or "
                    "text-only posts).", field="platform", code="warming_unsupported",
                )  # fmt: skip
            config = parse_config(raw if raw is not None else account.warming_config)
            started_at = config.started_at or self._ctx.clock.now()
            config = config.model_copy(update={"started_at": started_at})
            if account.proxy_failed:
                raise Conflict("The account's proxy failed its health checks; assign a working proxy first.",
                               code="proxy_failed")  # fmt: skip
            changed = account.model_copy(update={
                "status": AccountStatus.WARMING, "warming_config": config.stored(), "updated_at": self._ctx.clock.now(),
            })  # fmt: skip
            stored = await self._ctx.store.accounts.update(changed, expected_updated_at=account.updated_at)
            return stored, config, started_at

        account, config, started_at = await apply_over_read(lambda: self._account(principal, account_id), write)
        await self._schedules.ensure(
            account.organization_id, account.id, config, await persona_timezone(self._ctx, account)
        )
        await self._audit(principal, "account.warming_start", account.id, ip, startedAt=started_at.isoformat())
        return await self.view(principal, account.id)

    async def pause(
        self, principal: Principal, account_id: str, reason: str | None, *, ip: str | None
    ) -> dict[str, Any]:
        account = await self._account(principal, account_id)
        note = f"paused by {_who(principal)}" + (f": {reason}" if reason else "")
        if not await self._schedules.pause(account.id, note):
            raise Conflict("Warming was never started for this account.", code="warming_not_started")
        await self._audit(principal, "account.warming_pause", account.id, ip, note=note)
        return await self.view(principal, account.id)

    async def resume(self, principal: Principal, account_id: str, *, ip: str | None) -> dict[str, Any]:
        account = await self._account(principal, account_id)
        if account.status is not AccountStatus.WARMING:
            raise Conflict(f"The account is {account.status.value}, not warming; start warming instead.",
                           code="not_warming")  # fmt: skip
        if account.proxy_failed:
            raise Conflict("The account's proxy failed its health checks.", code="proxy_failed")
        if not await self._schedules.resume(account.id, f"resumed by {_who(principal)}"):
            config = parse_config(account.warming_config)
            await self._schedules.ensure(account.organization_id, account.id, config,
                                         await persona_timezone(self._ctx, account))  # fmt: skip
        await self._audit(principal, "account.warming_resume", account.id, ip)
        return await self.view(principal, account.id)

    async def view(self, principal: Principal, account_id: str) -> dict[str, Any]:
        account = await self._account(principal, account_id)
        tz_name = await persona_timezone(self._ctx, account)
        progress = dict(account.metrics.get("warming") or {})
        try:
            config: WarmingConfig | None = parse_config(account.warming_config)
        except InvalidInput:
            config = None
        now = self._ctx.clock.now()
        schedule = await self._schedules.describe(account.id)
        day = day_number(config, now, zone(tz_name)) if config else 0
        today = local_date(now, zone(tz_name)).isoformat()
        return {
            "accountId": account.id,
            "status": account.status.value,
            "plan": config.stored() if config else account.warming_config,
            "timezone": tz_name,
            "allowedActions": sorted(a.value for a in PLATFORM_ACTIONS[account.platform]),
            "day": day,
            "quotaToday": quota(config, day) if config and not is_done(config, day) else 0,
            "doneToday": int(progress.get("doneToday", 0)) if progress.get("date") == today else 0,
            "done": bool(config and is_done(config, day)) or "finishedAt" in progress,
            "lastRunAt": progress.get("lastRunAt"),
            "scheduled": schedule is not None,
            "paused": schedule.paused if schedule else None,
            "note": schedule.note if schedule else None,
            "nextRunAt": _iso(schedule.next_run_at) if schedule else None,
            "progress": progress,
        }

    # --- hooks: the account or its proxy changed ---------------------------------------------------------------

    async def account_changed(self, before: Account | None, after: Account) -> None:
        """Called by AccountService after an account is created or updated."""
        was = before.status if before else None
        if before is not None and before.integration_id != after.integration_id and was is AccountStatus.WARMING:
            try:
                await self._link_changed(after)
            except Exception as exc:  # the link stands; the next day's run pauses a channel-less account itself
                log.warning("warming schedule of account %s not updated: %s", after.id, type(exc).__name__)
        if after.status is AccountStatus.WARMING:
            if was is AccountStatus.WARMING and before is not None and before.warming_config == after.warming_config:
                return
            config = parse_config(after.warming_config)
            if config.started_at is None:
                after, config = await self._stamp_start(after)
            await self._schedules.ensure(after.organization_id, after.id, config,
                                         await persona_timezone(self._ctx, after))  # fmt: skip
            if after.proxy_failed:
                await self._schedules.hold(after.id, f"{NOTE_PROXY_PREFIX}: the account's proxy is failed")
        elif was is not None and was is not after.status:
            if after.status is AccountStatus.SUSPENDED:
                await self._schedules.hold(after.id, NOTE_SUSPENDED)
            elif after.status is AccountStatus.INACTIVE:
                await self._schedules.hold(after.id, NOTE_INACTIVE)
            elif after.status is AccountStatus.ACTIVE:
                await self._schedules.delete(after.id)

    async def _stamp_start(self, account: Account) -> tuple[Account, WarmingConfig]:
        """Record when the warming plan started, over whatever else changed on the account since it was read."""

        async def read() -> Account:
            current = await self._ctx.store.accounts.get(account.organization_id, account.id)
            if current is None:
                raise NotFound("Account", account.id)
            return current

        async def write(current: Account) -> tuple[Account, WarmingConfig]:
            config = parse_config(current.warming_config)
            if config.started_at is not None:  # stamped meanwhile
                return current, config
            now = self._ctx.clock.now()
            config = config.model_copy(update={"started_at": now})
            changed = current.model_copy(update={"warming_config": config.stored(), "updated_at": now})
            return await self._ctx.store.accounts.update(changed, expected_updated_at=current.updated_at), config

        return await apply_over_read(read, write)

    async def proxy_changed(self, change: HealthChange) -> None:
        """The proxy-health hook: a failed proxy pauses its accounts' warming; a recovered one resumes those it
        paused (never one an operator or a suspension paused)."""
        for account_id in change.account_ids:
            try:
                if change.failed:
                    why = f"{NOTE_PROXY_PREFIX}: {change.proxy_name} failed its health checks"
                    await self._schedules.hold(account_id, f"{why} ({change.error})" if change.error else why)
                    continue
                schedule = await self._schedules.describe(account_id)
                account = await self._ctx.store.accounts.get(change.organization_id, account_id)
                if (
                    schedule is not None and schedule.paused and (schedule.note or "").startswith(NOTE_PROXY_PREFIX)
                    and account is not None and account.status is AccountStatus.WARMING
                ):  # fmt: skip
                    await self._schedules.resume(account_id, f"proxy {change.proxy_name} recovered")
            except Exception as exc:  # one account's schedule must not keep the others unpaused
                log.warning("warming schedule of account %s not updated: %s", account_id, type(exc).__name__)

    async def channel_needs_reconnecting(self, organization_id: str, integration_id: str) -> None:
        """The refresh-needed hook (activities/publishing.py, activities/token_refresh.py): the warming of the
        account linked to the channel pauses now, rather than at its next run."""
        account = await self._ctx.store.accounts.linked_to(organization_id, integration_id)
        if account is not None and account.status is AccountStatus.WARMING:
            await self._schedules.hold(account.id, NOTE_CHANNEL)

    async def channel_connected(self, organization_id: str, integration_id: str) -> None:
        """The auto-link hook (activities/autolink.py), after every connect: the warming that the channel's revoked
        grant, or the account's missing channel, paused resumes (never one an operator or a suspension paused)."""
        account = await self._ctx.store.accounts.linked_to(organization_id, integration_id)
        if account is not None:
            await self._resume_paused_for(account, (NOTE_CHANNEL, NOTE_NO_CHANNEL), "channel connected")

    async def _link_changed(self, account: Account) -> None:
        if account.integration_id is None:
            await self._schedules.hold(account.id, NOTE_NO_CHANNEL)
            return
        async with self._ctx.uows.reading() as uow:
            integration = await uow.integrations.get(account.organization_id, account.integration_id)
        if integration is not None and not integration.disabled and not integration.refresh_needed:
            await self._resume_paused_for(account, (NOTE_CHANNEL, NOTE_NO_CHANNEL), "channel linked")

    async def _resume_paused_for(self, account: Account, notes: tuple[str, ...], why: str) -> None:
        if account.status is not AccountStatus.WARMING:
            return
        schedule = await self._schedules.describe(account.id)
        if schedule is not None and schedule.paused and schedule.note in notes:
            await self._schedules.resume(account.id, why)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _who(principal: Principal) -> str:
    return f"{principal.actor_type.value} {principal.actor_id}"
