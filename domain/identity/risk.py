"""Risk limits of an Account (the persona plan's risk management): at most `daily_post_limit` posts a day, the day
counted in the Soul's Persona timezone (UTC without one), and nothing while `cooldown_until` lies ahead. A platform's
rate-limit or spam answer raises `warning_count` and starts a cooldown.

The rules are pure: callers (the publishing activity, warming) count and read, then ask `risk_check`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class OverLimitPolicy(enum.StrEnum):
    """What an organization wants when an account is over its limits: wait for the next window, or fail."""

    WAIT = "wait"
    FAIL = "fail"


class PlatformFlag(enum.StrEnum):
    """What a platform flagged, starting a cooldown."""

    RATE_LIMIT = "rate_limit"
    SPAM = "spam"


# What the cooldown reason says, for each kind of platform flag.
FLAGGED = {
    PlatformFlag.RATE_LIMIT: "the platform rate limited it",
    PlatformFlag.SPAM: "the platform flagged it as spam",
}


class RiskLimited(Protocol):
    """The fields of an account the rule reads (an Account has them)."""

    @property
    def handle(self) -> str: ...
    @property
    def daily_post_limit(self) -> int | None: ...
    @property
    def cooldown_until(self) -> datetime | None: ...
    @property
    def cooldown_reason(self) -> str | None: ...


@dataclass(frozen=True)
class RiskVerdict:
    allowed: bool
    until: datetime | None = None  # when the account may act again (UTC)
    reason: str | None = None  # for a person: why not, and until when
    kind: str | None = None  # "daily_limit" | "cooldown"

    @property
    def waiting_hint(self) -> str | None:
        """What a delivery waiting for the window says."""
        if self.allowed or self.until is None:
            return None
        what = "daily limit reached" if self.kind == "daily_limit" else "account cooling down"
        return f"waiting: {what}, resumes at {_stamp(self.until)}"


ALLOWED = RiskVerdict(allowed=True)


def zone(name: str | None) -> tzinfo:
    """The Persona's timezone, or UTC when there is none or it is unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def day_window(now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The local calendar day holding `now`, as [start, end) in UTC. Days around a DST change are 23 or 25 hours; a
    day whose midnight does not exist (clocks jump from 00:00) starts at its first real instant."""
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), time(0), tzinfo=tz)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    return _first_instant(start), _first_instant(end)


def _first_instant(local_midnight: datetime) -> datetime:
    # zoneinfo maps a skipped wall time with the offset before the jump, i.e. to the first instant after the gap;
    # an ambiguous one (fold=0) to its first occurrence. Both are where the local day begins.
    return local_midnight.astimezone(UTC)


def risk_check(account: RiskLimited, published_today: int, now: datetime, tz: tzinfo = UTC) -> RiskVerdict:
    """May the account post now? `published_today` counts its posts published in today's window (`day_window`) and
    those being published right now. A cooldown wins over the daily limit; a daily limit reached during a cooldown
    that ends later shows the cooldown."""
    handle = f"@{account.handle.lstrip('@')}"
    if account.cooldown_until is not None and account.cooldown_until > now:
        until = account.cooldown_until
        why = f" after {account.cooldown_reason}" if account.cooldown_reason else ""
        reason = f"account {handle} is cooling down until {_local(until, tz)}{why}"
        return RiskVerdict(allowed=False, until=until, reason=reason, kind="cooldown")
    limit = account.daily_post_limit
    if limit is not None and published_today >= limit:
        _, resets = day_window(now, tz)
        posts = "post" if limit == 1 else "posts"
        reason = f"account {handle} reached its daily limit of {limit} {posts}; it resets at {_local(resets, tz)}"
        return RiskVerdict(allowed=False, until=resets, reason=reason, kind="daily_limit")
    return ALLOWED


def loosened(before: RiskLimited, after: RiskLimited) -> bool:
    """Whether a change lets the account post sooner: its cooldown cleared or shortened, or its daily limit raised
    or removed. Deliveries waiting for the account's window then try again at once (they re-check the limits)."""
    shorter = before.cooldown_until is not None and (
        after.cooldown_until is None or after.cooldown_until < before.cooldown_until
    )
    higher = before.daily_post_limit is not None and (
        after.daily_post_limit is None or after.daily_post_limit > before.daily_post_limit
    )
    return shorter or higher


def needs_count(account: RiskLimited) -> bool:
    """Only an account with a daily limit needs its posts counted."""
    return account.daily_post_limit is not None


def cooldown_after(
    flag: PlatformFlag, now: datetime, *, retry_after_s: float | None, rate_limit_s: float, spam_s: float
) -> datetime:
    """When a cooldown started by a platform's flag ends: a rate limit at the platform's reset time (or after
    `rate_limit_s`), spam after `spam_s`."""
    if flag is PlatformFlag.SPAM:
        return now + timedelta(seconds=spam_s)
    return now + timedelta(seconds=retry_after_s if retry_after_s and retry_after_s > 0 else rate_limit_s)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _local(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz).isoformat(timespec="seconds")
    name = getattr(tz, "key", None)
    return f"{local} ({name})" if name else local
