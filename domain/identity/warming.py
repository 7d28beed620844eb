"""Account warming (the PRD's Phase 3): a new account acts a little more each day, like a person getting used to a
network, until it reaches its target and becomes `active`.

The plan is an Account's `warmingConfig`; everything here is pure: which day of the ramp it is (counted in the
Persona's timezone), that day's quota (a linear ramp from `startActionsPerDay` to `targetActionsPerDay` over
`rampDays`), how the quota splits over the mix of actions the platform allows, and when each action runs (spread
over the active hours, jittered by a seed fixed per account and day, so a retried plan is the same plan).

The schedule side (`WarmingSchedules`, one Temporal Schedule `warming:{accountId}` per account) and the platform
side (`PlatformWarmer`, the engagement calls each platform's API allows) are Protocols the adapters implement."""

from __future__ import annotations

import enum
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from domain.channels.connectors import ProxySpec
from domain.errors import InvalidInput
from domain.identity.platforms import Platform
from domain.publishing.publisher import PublishingChannel


class WarmingAction(enum.StrEnum):
    VIEW = "view"
    LIKE = "like"
    FOLLOW = "follow"
    REPLY = "reply"
    POST = "post"


# Platforms whose API publishes a text-only post; Instagram and TikTok need media, so "post" is not theirs to warm with.
TEXT_POST_PLATFORMS = frozenset(Platform) - {Platform.INSTAGRAM, Platform.TIKTOK}


def schedule_id(account_id: str) -> str:
    return f"warming:{account_id}"


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ActionMix(_Camel):
    """Relative weights: {view: 4, like: 3} means four views for every three likes."""

    view: float = Field(default=4, ge=0, le=1000)
    like: float = Field(default=3, ge=0, le=1000)
    follow: float = Field(default=1, ge=0, le=1000)
    reply: float = Field(default=1, ge=0, le=1000)
    post: float = Field(default=1, ge=0, le=1000)

    def weights(self) -> dict[WarmingAction, float]:
        return {action: float(getattr(self, action.value)) for action in WarmingAction}

    @model_validator(mode="after")
    def _some_weight(self) -> ActionMix:
        if not any(self.weights().values()):
            raise ValueError("at least one action needs a weight above 0")
        return self


def _clock_time(value: object) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a time of day such as 09:00")
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a time of day such as 09:00") from None
    return parsed.replace(second=0, microsecond=0, tzinfo=None)


class ActiveHours(_Camel):
    """Local wall-clock hours in the Persona's timezone; `end` before `start` spans midnight (22:00-02:00)."""

    start: time = time(9)
    end: time = time(21)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: object) -> time:
        return _clock_time(value)

    @model_validator(mode="after")
    def _not_empty(self) -> ActiveHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class WarmingConfig(_Camel):
    start_actions_per_day: int = Field(default=2, ge=0, le=1000)
    target_actions_per_day: int = Field(default=20, ge=0, le=1000)
    ramp_days: int = Field(default=14, ge=1, le=365)
    mix: ActionMix = Field(default_factory=ActionMix)
    active_hours: ActiveHours = Field(default_factory=ActiveHours)
    jitter_minutes: int = Field(default=15, ge=0, le=720)
    started_at: datetime | None = None

    @field_validator("started_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def stored(self) -> dict[str, Any]:
        """The camelCase JSON kept in Account.warming_config."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        for key in ("start", "end"):
            data["activeHours"][key] = data["activeHours"][key][:5]
        return data


def parse_config(raw: dict[str, Any] | None) -> WarmingConfig:
    """The validated plan; a problem names the field (`warmingConfig.mix.like`), never a stack of pydantic text."""
    try:
        return WarmingConfig.model_validate(raw or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        field = f"warmingConfig.{where}" if where else "warmingConfig"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {message}", field=field, code="invalid_warming_config") from None


def zone(name: str | None) -> tzinfo:
    """The Persona's timezone; UTC when there is none (or it names no zone this machine knows)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


# --- the ramp ---------------------------------------------------------------------------------------------------


def local_date(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


def day_number(config: WarmingConfig, now: datetime, tz: tzinfo) -> int:
    """1 on the local day warming started, 2 the next... 0 before it starts (or when it never started)."""
    if config.started_at is None:
        return 0
    return max(0, (local_date(now, tz) - local_date(config.started_at, tz)).days + 1)


def is_done(config: WarmingConfig, day: int) -> bool:
    return day > config.ramp_days


def quota(config: WarmingConfig, day: int) -> int:
    """Actions on `day`: linear from start (day 1) to target (day rampDays), the target after, none before day 1."""
    if day < 1:
        return 0
    if day >= config.ramp_days:
        return config.target_actions_per_day
    steps = config.ramp_days - 1
    span = config.target_actions_per_day - config.start_actions_per_day
    # Integer arithmetic rounds half away from zero identically on every machine.
    return config.start_actions_per_day + _round_div(span * (day - 1), steps)


def _round_div(numerator: int, denominator: int) -> int:
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def allowed_mix(mix: ActionMix, allowed: frozenset[WarmingAction]) -> dict[WarmingAction, float]:
    """The weights of the actions the platform allows; when none of the wanted ones is allowed, the allowed ones
    share the day equally (the mix degrades rather than the day being lost)."""
    wanted = {a: w for a, w in mix.weights().items() if a in allowed and w > 0}
    if wanted:
        return wanted
    return {a: 1.0 for a in WarmingAction if a in allowed}


def split(count: int, weights: dict[WarmingAction, float]) -> dict[WarmingAction, int]:
    """`count` actions shared by weight (largest remainder; ties go to the order of WarmingAction)."""
    total = sum(weights.values())
    if count <= 0 or total <= 0:
        return dict.fromkeys(weights, 0)
    exact = {a: count * w / total for a, w in weights.items()}
    shares = {a: int(v) for a, v in exact.items()}
    order = list(WarmingAction)
    leftover = sorted(weights, key=lambda a: (-(exact[a] - shares[a]), order.index(a)))
    for action in leftover[: count - sum(shares.values())]:
        shares[action] += 1
    return shares


def seed_of(account_id: str, day: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{account_id}:{day}".encode()).digest()[:8], "big")


def action_order(shares: dict[WarmingAction, int], seed: int) -> list[WarmingAction]:
    """The day's actions interleaved in an order fixed by the seed (not all the likes first)."""
    actions = [a for a in WarmingAction for _ in range(shares.get(a, 0))]
    random.Random(seed).shuffle(actions)  # noqa: S311 - a plan, not a secret
    return actions


# --- when -------------------------------------------------------------------------------------------------------


def _instant(day: date, clock: time, tz: tzinfo) -> datetime:
    # A wall time skipped by DST maps (fold=0) to the instant just after the gap; an ambiguous one to its first time.
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def active_window(config: WarmingConfig, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The active hours of the local `day` as UTC instants; across midnight the end lies on the next day."""
    hours = config.active_hours
    end_day = day + timedelta(days=1) if hours.end <= hours.start else day
    return _instant(day, hours.start, tz), _instant(end_day, hours.end, tz)


def spread(
    count: int, start: datetime, end: datetime, *, jitter: timedelta, seed: int, not_before: datetime | None = None
) -> list[datetime]:
    """`count` instants evenly spread over [start, end] (from `not_before` when that is later), each moved by up to
    ±`jitter` within its own slot, so jitter never bunches two actions together. Empty once the window is over."""
    begin = max(start, not_before) if not_before is not None else start
    if count <= 0 or begin >= end:
        return []
    slot = (end - begin) / count
    reach = min(jitter, slot / 2)
    rng = random.Random(seed)  # noqa: S311 - a plan, not a secret
    times = []
    for i in range(count):
        centre = begin + slot * (i + 0.5)
        offset = reach * (rng.random() * 2 - 1) if reach > timedelta(0) else timedelta(0)
        times.append(min(end, max(begin, centre + offset)))
    return sorted(times)


@dataclass(frozen=True)
class PlannedAction:
    action: WarmingAction
    at: datetime
    index: int  # the action's number in the day (0-based): part of its idempotency key


@dataclass(frozen=True)
class DayPlan:
    day: int
    date: date
    quota: int
    done_today: int
    window: tuple[datetime, datetime]
    actions: tuple[PlannedAction, ...]


def plan_day(
    config: WarmingConfig,
    account_id: str,
    now: datetime,
    tz: tzinfo,
    allowed: frozenset[WarmingAction],
    *,
    done_today: int = 0,
    window: tuple[datetime, datetime] | None = None,
) -> DayPlan:
    """What is left of today's quota and when each remaining action runs (never before `now`). `window` overrides
    the active hours (tests compress a day into seconds)."""
    day = day_number(config, now, tz)
    today = local_date(now, tz)
    target = quota(config, day) if not is_done(config, day) else 0
    bounds = window or active_window(config, today, tz)
    if window is None and now < bounds[0]:
        # Before this evening's start, yesterday's overnight window (22:00-02:00) may still be open.
        earlier = active_window(config, today - timedelta(days=1), tz)
        if now < earlier[1]:
            bounds = earlier
    seed = seed_of(account_id, day)
    remaining = max(0, target - done_today)
    full = action_order(split(target, allowed_mix(config.mix, allowed)), seed)
    kinds = full[done_today:]
    scale = 1.0 if window is None else _scale(config, bounds, today, tz)
    times = spread(remaining, bounds[0], bounds[1], jitter=timedelta(minutes=config.jitter_minutes) * scale,
                   seed=seed, not_before=now)  # fmt: skip
    actions = tuple(
        PlannedAction(kind, at, done_today + i) for i, (kind, at) in enumerate(zip(kinds, times, strict=False))
    )
    return DayPlan(day=day, date=today, quota=target, done_today=done_today, window=bounds, actions=actions)


def _scale(config: WarmingConfig, window: tuple[datetime, datetime], day: date, tz: tzinfo) -> float:
    real = active_window(config, day, tz)
    real_s = (real[1] - real[0]).total_seconds()
    return (window[1] - window[0]).total_seconds() / real_s if real_s > 0 else 0.0


# --- ports ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionDone:
    action: WarmingAction
    target_id: str | None = None  # the post liked/replied to, the user followed
    external_id: str | None = None  # what the action created (a reply, a post, a like record)


class PlatformWarmer(Protocol):
    """The engagement side of a platform: view (read the home timeline), like, follow, reply, as its API allows.
    Every call goes through `proxy` (adapters/platforms/base.py `send`) and raises the connector error classes."""

    platform: Platform
    allowed: frozenset[WarmingAction]

    async def act(
        self, channel: PublishingChannel, action: WarmingAction, key: str, text: str, *, proxy: ProxySpec | None
    ) -> ActionDone:
        """Perform `action` (not POST: posts go through the publisher). `key` is stable across retries (it picks the
        target); `text` is the reply's text."""
        ...


@dataclass(frozen=True)
class ScheduleView:
    paused: bool
    note: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None


class WarmingSchedules(Protocol):
    """One schedule per warming account (`warming:{accountId}`)."""

    async def ensure(self, organization_id: str, account_id: str, config: WarmingConfig, timezone: str) -> None:
        """Create it, or bring its spec up to date; running unpaused either way."""
        ...

    async def pause(self, account_id: str, note: str) -> bool:
        """Pause with a note saying why; False when there is no schedule."""
        ...

    async def hold(self, account_id: str, note: str) -> bool:
        """The system's pause: like `pause`, but a schedule paused already keeps its note (an operator's pause is
        never taken over, and a recovery resumes only what its own failure paused); False when there is none."""
        ...

    async def resume(self, account_id: str, note: str) -> bool: ...
    async def delete(self, account_id: str) -> None: ...
    async def describe(self, account_id: str) -> ScheduleView | None: ...


# What each platform's API lets an account do to warm up (adapters/platforms/warming documents the calls).
_ENGAGING = frozenset({WarmingAction.VIEW, WarmingAction.LIKE, WarmingAction.FOLLOW, WarmingAction.REPLY})
PLATFORM_ACTIONS: dict[Platform, frozenset[WarmingAction]] = {
    platform: (_ENGAGING if platform in (Platform.X, Platform.BLUESKY, Platform.MASTODON) else frozenset())
    | ({WarmingAction.POST} if platform in TEXT_POST_PLATFORMS else frozenset())
    for platform in Platform
}

# Notes the schedule carries when the system paused it; a recovered proxy resumes only what its failure paused.
NOTE_SUSPENDED = "account suspended"
NOTE_INACTIVE = "account inactive"
NOTE_PROXY_PREFIX = "proxy failed"
NOTE_CHANNEL = "channel needs reconnecting"
NOTE_NO_CHANNEL = "the account has no connected channel"
NOTE_INVALID = "the warming config is invalid"
NOTE_UNSUPPORTED = "the platform allows no warming action"
