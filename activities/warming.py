"""Warming activities: plan the day (on the `souls` queue), perform one action through the Account's proxy (on the
platform's queue, like publishing, so the platform's rate cap applies), and finish the ramp.

Inputs and results carry ids, times and outcomes only; the activities load tokens and proxy passwords themselves.
When the account cannot act (suspended, its proxy failed, its channel revoked), the activity pauses the account's
schedule with a note saying why, so an operator sees the reason in the API and in the Temporal UI. The account's risk
limits (domain/identity/risk.py) are checked before the day and before each action: a cooldown or a reached daily
limit stops the rest of the day (the schedule stays on; tomorrow's run checks again), and a platform's rate-limit or
spam answer warns the account and cools it down exactly as publishing does (domain/services/identity/risk_flags.py).
Either way the warming progress (account.metrics.warming) says why the day stopped."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    ConnectorError,
    Duplicate,
    InvalidContent,
    InvalidRequest,
    ProxySpec,
    Unconfirmed,
)
from domain.channels.integrations import integration_record
from domain.clock import Clock
from domain.errors import InvalidInput
from domain.identity.accounts import Account, AccountStatus
from domain.identity.platforms import Platform
from domain.identity.ports import DocumentStore
from domain.identity.proxies import failed_reason, proxy_record
from domain.identity.risk import ALLOWED, RiskVerdict, day_window, needs_count, risk_check
from domain.identity.warming import (
    NOTE_CHANNEL,
    NOTE_INVALID,
    NOTE_NO_CHANNEL,
    NOTE_PROXY_PREFIX,
    NOTE_SUSPENDED,
    NOTE_UNSUPPORTED,
    PLATFORM_ACTIONS,
    PlatformWarmer,
    WarmingAction,
    WarmingConfig,
    WarmingSchedules,
    is_done,
    local_date,
    parse_config,
    plan_day,
    zone,
)
from domain.ports import FieldSealer, UnitOfWorkFactory
from domain.publishing.publisher import OutgoingPost, PlatformPublisher, PublishingChannel
from domain.services import audit
from domain.services.identity.risk_flags import RiskFlags, platform_flag
from domain.services.identity.souls import IdentityContext
from domain.services.identity.warming import persona_timezone
from domain.services.refresh_needed import RefreshNeeded
from domain.services.webhooks import WebhookNotifier

# Errors the workflow does not retry: the day stops (AuthExpired: the channel's refresh loop renews the token).
# ("RateLimited" is no longer raised, a rate limit now stops the day with the reason; it stays for runs in flight.)
FINAL_ERRORS = ["AuthExpired", "AuthRevoked", "RateLimited", "Stopped"]
# Progress keys saying why the day stopped early (risk limits); a run that goes ahead clears them.
_STOPPED_KEYS = ("stoppedReason", "stoppedAt", "stoppedUntil")


class WarmingRef(BaseModel):
    organization_id: str
    account_id: str
    queue_prefix: str = ""


class PlannedStep(BaseModel):
    action: WarmingAction
    at: datetime
    index: int


class WarmingDayPlan(BaseModel):
    run: bool
    reason: str | None = None
    platform: str = ""
    day: int = 0
    date: str = ""
    quota: int = 0
    done_today: int = 0
    steps: list[PlannedStep] = []
    last_day: bool = False
    finished: bool = False


class StepRequest(BaseModel):
    organization_id: str
    account_id: str
    action: WarmingAction
    index: int
    day: int
    date: str


class StepOutcome(BaseModel):
    done: bool
    stop: bool = False
    reason: str | None = None
    target_id: str | None = None
    external_id: str | None = None


class FinishRequest(BaseModel):
    organization_id: str
    account_id: str
    day: int


class _NoteJournal:
    """A warming post's publish journal, kept for the attempt only: a retried "post" looks its key up the way the
    publisher does (Bluesky rkey, Mastodon Idempotency-Key are derived from the key)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def record(self, key: str, value: str) -> None:
        self.values[key] = value

    def remember(self, key: str, value: str) -> None:
        self.values[key] = value


class WarmingActivities:
    def __init__(
        self,
        store: DocumentStore,
        uows: UnitOfWorkFactory,
        sealer: FieldSealer,
        warmers: Mapping[Platform, PlatformWarmer],
        publishers: Mapping[Platform, PlatformPublisher],
        schedules: WarmingSchedules,
        clock: Clock,
        *,
        day_s: float | None = None,
        rate_limit_cooldown_s: float = 900.0,
        spam_cooldown_s: float = 86400.0,
        webhooks: WebhookNotifier | None = None,
    ) -> None:
        self._store = store
        self._uows = uows
        self._sealer = sealer
        self._warmers = warmers
        self._publishers = publishers
        self._schedules = schedules
        self._clock = clock
        # Tests compress the active hours into this many seconds from the start of a run.
        self._day_s = day_s
        self._ctx = IdentityContext(store=store, uows=uows, clock=clock)
        self._risk_flags = RiskFlags(store, uows, clock, rate_limit_cooldown_s, spam_cooldown_s)
        # No hook: the account whose action met the revoked grant is the one paused here.
        self._refresh_needed = RefreshNeeded(uows, clock, webhooks)

    def allowed(self, platform: Platform) -> frozenset[WarmingAction]:
        allowed = set(PLATFORM_ACTIONS[platform])
        warmer = self._warmers.get(platform)
        allowed &= (warmer.allowed if warmer else frozenset()) | {WarmingAction.POST}
        if platform not in self._publishers:
            allowed.discard(WarmingAction.POST)
        return frozenset(allowed)

    # --- plan ----------------------------------------------------------------------------------------------------

    @activity.defn(name="warming_plan")
    async def plan(self, ref: WarmingRef) -> WarmingDayPlan:
        account = await self._store.accounts.get(ref.organization_id, ref.account_id)
        if account is None:
            await self._schedules.delete(ref.account_id)
            return WarmingDayPlan(run=False, reason="the account no longer exists")
        blocked = await self._blocked(account)
        if blocked is not None:
            return WarmingDayPlan(run=False, reason=blocked, platform=account.platform.value)
        config = parse_config(account.warming_config)  # _blocked checked it parses
        tz_name = await persona_timezone(self._ctx, account)
        now = self._clock.now()
        verdict = await self._risk(account, zone(tz_name), now)
        if not verdict.allowed:
            reason = await self._held(account, verdict, now)
            return WarmingDayPlan(run=False, reason=reason, platform=account.platform.value)
        window = (now, now + timedelta(seconds=self._day_s)) if self._day_s else None
        progress = dict(account.metrics.get("warming") or {})
        today = local_date(now, zone(tz_name)).isoformat()
        done_today = int(progress.get("doneToday", 0)) if progress.get("date") == today else 0
        day = plan_day(config, account.id, now, zone(tz_name), self.allowed(account.platform),
                       done_today=done_today, window=window)  # fmt: skip
        if is_done(config, day.day):
            await self._finish(account, config, day.day)
            return WarmingDayPlan(run=False, reason="warming done", day=day.day, finished=True)
        await self._progress(account, {
            "day": day.day, "date": today, "quota": day.quota, "doneToday": done_today, "lastRunAt": now.isoformat(),
            "windowStart": day.window[0].isoformat(), "windowEnd": day.window[1].isoformat(),
            "planned": len(day.actions),
        }, clear=_STOPPED_KEYS)  # fmt: skip
        return WarmingDayPlan(
            run=True, platform=account.platform.value, day=day.day, date=today, quota=day.quota,
            done_today=done_today, last_day=day.day >= config.ramp_days,
            steps=[PlannedStep(action=a.action, at=a.at, index=a.index) for a in day.actions],
        )  # fmt: skip

    async def _blocked(self, account: Account) -> str | None:
        """Why the account cannot warm now, pausing its schedule when a person must act first; None when it can."""
        if account.status is not AccountStatus.WARMING:
            if account.status is AccountStatus.SUSPENDED:
                await self._schedules.hold(account.id, NOTE_SUSPENDED)
            return f"the account is {account.status.value}, not warming"
        try:
            parse_config(account.warming_config)
        except InvalidInput as exc:
            return await self._pause(account, f"{NOTE_INVALID}: {exc}")
        if not self.allowed(account.platform):
            return await self._pause(account, NOTE_UNSUPPORTED)
        if account.proxy_failed:
            return await self._pause(account, f"{NOTE_PROXY_PREFIX}: the account's proxy failed its health checks")
        if account.integration_id is None:
            return await self._pause(account, NOTE_NO_CHANNEL)
        async with self._uows.reading() as uow:
            integration = await uow.integrations.get(account.organization_id, account.integration_id)
        if integration is None or integration.disabled:
            return await self._pause(account, NOTE_NO_CHANNEL)
        if integration.refresh_needed:
            return await self._pause(account, NOTE_CHANNEL)
        return None

    async def _pause(self, account: Account, note: str) -> str:
        await self._schedules.hold(account.id, note)
        return note

    # --- risk limits (domain/identity/risk.py) -------------------------------------------------------------------

    async def _risk(self, account: Account, tz: tzinfo, now: datetime) -> RiskVerdict:
        """The account's limits, as publishing reads them; the day's posts count both the deliveries published (or
        being published) and warming's own posts."""
        cooling = account.cooldown_until is not None and account.cooldown_until > now
        if not (cooling or needs_count(account)):
            return ALLOWED
        posted = 0
        if needs_count(account) and not cooling:
            since, _ = day_window(now, tz)
            async with self._uows.reading() as uow:
                posted = await uow.deliveries.count_for_limit(account.organization_id, account.id, since)
            progress = account.metrics.get("warming") or {}
            if progress.get("date") == local_date(now, tz).isoformat():
                posted += int(progress.get("postsToday", 0))
        return risk_check(account, posted, now, tz)

    async def _held(self, account: Account, verdict: RiskVerdict, now: datetime) -> str:
        """The rest of the day is off: the progress says why and until when (the schedule runs again tomorrow)."""
        reason = verdict.reason or "the account is over its risk limits"
        await self._progress(account, {
            "stoppedReason": reason, "stoppedAt": now.isoformat(),
            "stoppedUntil": verdict.until.isoformat() if verdict.until else None,
        })  # fmt: skip
        return reason

    async def _flagged(self, account: Account, request: StepRequest, exc: ConnectorError) -> StepOutcome:
        """A rate-limit or spam answer: a warning and a cooldown, exactly as publishing gives them; the day stops."""
        details = {"warmingAction": request.action.value, "warmingDay": request.day}
        flagged = await self._risk_flags.flagged(account.organization_id, account.id, exc, details)
        now = self._clock.now()
        if flagged is None:  # the account is gone
            return StepOutcome(done=False, stop=True, reason=f"{type(exc).__name__}: {exc}")
        tz = zone(await persona_timezone(self._ctx, flagged))
        reason = await self._held(flagged, risk_check(flagged, 0, now, tz), now)
        return StepOutcome(done=False, stop=True, reason=reason)

    # --- act -----------------------------------------------------------------------------------------------------

    @activity.defn(name="warming_act")
    async def act(self, request: StepRequest) -> StepOutcome:
        account = await self._store.accounts.get(request.organization_id, request.account_id)
        if account is None:
            return StepOutcome(done=False, stop=True, reason="the account no longer exists")
        blocked = await self._blocked(account)
        if blocked is not None:
            return StepOutcome(done=False, stop=True, reason=blocked)
        now = self._clock.now()
        verdict = await self._risk(account, zone(await persona_timezone(self._ctx, account)), now)
        if not verdict.allowed:
            return StepOutcome(done=False, stop=True, reason=await self._held(account, verdict, now))
        proxy = await self._proxy(account)
        if isinstance(proxy, str):
            return StepOutcome(done=False, stop=True, reason=await self._pause(account, proxy))
        channel = await self._channel(account)
        key = f"warming:{account.id}:{request.date}:{request.index}"
        text = await self._text(account, key)
        try:
            if request.action is WarmingAction.POST:
                publisher = self._publishers[account.platform]
                post = OutgoingPost(key=key, text=text, first_attempt_at=self._clock.now())
                published = await publisher.publish(channel, post, _NoteJournal(), proxy=proxy)
                target: str | None = None
                external: str | None = published.external_id
            else:
                done = await self._warmers[account.platform].act(channel, request.action, key, text, proxy=proxy)
                target, external = done.target_id, done.external_id
        except AuthRevoked as exc:
            # The grant is gone for publishing too: the channel needs reconnecting (matrix, audit, webhooks).
            if account.integration_id:
                reason = "revoked while warming"
                await self._refresh_needed.mark(account.organization_id, account.integration_id, reason)
            await self._pause(account, NOTE_CHANNEL)
            raise ApplicationError(str(exc), type="AuthRevoked", non_retryable=True) from None
        except AuthExpired as exc:
            raise ApplicationError(str(exc), type="AuthExpired", non_retryable=True) from None
        except ConnectorError as exc:
            if platform_flag(exc) is not None:  # rate limited, or flagged as spam
                return await self._flagged(account, request, exc)
            if isinstance(exc, (Duplicate, InvalidContent, InvalidRequest, Unconfirmed)):
                # This action is lost (the timeline had no target, the text was refused...): the day goes on.
                return StepOutcome(done=False, reason=f"{type(exc).__name__}: {exc}")
            raise ApplicationError(str(exc), type="Transient") from None
        await self._count(account.id, request, self._clock.now())
        return StepOutcome(done=True, target_id=target, external_id=external)

    async def _proxy(self, account: Account) -> ProxySpec | str | None:
        """The account's proxy, None to go direct (only where the organization allows it), or why it cannot act."""
        if not account.proxy_id:
            async with self._uows.reading() as uow:
                organization = await uow.organizations.get(account.organization_id)
            if organization is not None and organization.allow_direct_publishing:
                return None
            return "the account has no proxy assigned"
        proxy = await self._store.proxies.get(account.organization_id, account.proxy_id)
        if proxy is None:
            return "the account's proxy no longer exists"
        if (failed := failed_reason(proxy)) is not None:
            return f"{NOTE_PROXY_PREFIX}: {failed}"
        password = (
            self._sealer.decrypt_str(proxy.password, record=proxy_record(proxy.id), field="credentials.password")
            if proxy.password
            else None
        )
        return ProxySpec(proxy.protocol.value, proxy.host, proxy.port, proxy.username, password)

    async def _channel(self, account: Account) -> PublishingChannel:
        async with self._uows.reading() as uow:
            integration = await uow.integrations.get(account.organization_id, account.integration_id or "")
        if integration is None or integration.token is None:
            raise ApplicationError(NOTE_NO_CHANNEL, type="Stopped", non_retryable=True)
        token = self._sealer.decrypt_str(integration.token, record=integration_record(integration.id), field="token")
        return PublishingChannel(internal_id=integration.internal_id, handle=integration.handle, access_token=token,
                                 api_base=integration.api_base)  # fmt: skip

    async def _text(self, account: Account, key: str) -> str:
        """A short text on one of the Persona's content themes (replies and posts), different for every action."""
        themes = ["today"]
        soul = await self._store.souls.get(account.organization_id, account.soul_id)
        if soul is not None and soul.persona_id:
            persona = await self._store.personas.get(account.organization_id, soul.persona_id)
            if persona is not None and persona.content_themes:
                themes = persona.content_themes
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        openers = ("Thinking about", "Loving", "Small note on", "Still learning about", "A good day for")
        return f"{openers[digest % len(openers)]} {themes[digest % len(themes)]} ({digest % 100_000:05d})"

    async def _count(self, account_id: str, request: StepRequest, now: datetime) -> None:
        def counted(progress: dict[str, Any]) -> dict[str, Any]:
            if progress.get("date") != request.date:
                progress.update({"date": request.date, "day": request.day, "doneToday": 0, "postsToday": 0})
            progress["doneToday"] = int(progress.get("doneToday", 0)) + 1
            if request.action is WarmingAction.POST:  # the daily post limit counts these too
                progress["postsToday"] = int(progress.get("postsToday", 0)) + 1
            progress["totalDone"] = int(progress.get("totalDone", 0)) + 1
            counts = dict(progress.get("actions") or {})
            counts[request.action.value] = int(counts.get(request.action.value, 0)) + 1
            progress.update({"actions": counts, "lastActionAt": now.isoformat(), "lastAction": request.action.value})
            return progress

        # Only the progress and the activity time: an operator's edit of the account at this moment stays.
        await self._store.accounts.update_warming(
            request.organization_id, account_id, counted, updated_at=now, last_activity_at=now
        )

    async def _progress(self, account: Account, values: dict[str, Any], *, clear: tuple[str, ...] = ()) -> None:
        def changed(progress: dict[str, Any]) -> dict[str, Any]:
            return {**{k: v for k, v in progress.items() if k not in clear}, **values}

        await self._store.accounts.update_warming(
            account.organization_id, account.id, changed, updated_at=self._clock.now()
        )

    # --- finish --------------------------------------------------------------------------------------------------

    @activity.defn(name="warming_finish")
    async def finish(self, request: FinishRequest) -> bool:
        """After the last ramp day's quota: the account becomes active and its schedule goes away."""
        account = await self._store.accounts.get(request.organization_id, request.account_id)
        if account is None or account.status is not AccountStatus.WARMING:
            return False
        config = parse_config(account.warming_config)
        if request.day < config.ramp_days:
            return False
        await self._finish(account, config, request.day)
        return True

    async def _finish(self, account: Account, config: WarmingConfig, day: int) -> None:
        now = self._clock.now()
        finished = {"finishedAt": now.isoformat(), "day": day}
        await self._store.accounts.update_warming(
            account.organization_id, account.id, lambda progress: {**progress, **finished},
            updated_at=now, status=AccountStatus.ACTIVE,
        )  # fmt: skip
        await self._schedules.delete(account.id)
        await audit.record_now(
            self._uows, organization_id=account.organization_id, action="account.warming_done", actor_id="warming",
            target_type="account", target_id=account.id, details={"rampDays": config.ramp_days, "day": day},
        )  # fmt: skip
