"""The risk limit rule (domain/identity/risk.py): the day window in the Persona's timezone (DST days, midnight
edges, skipped midnights), the daily limit, cooldowns, and how long a platform's flag cools an account down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.identity.risk import PlatformFlag, cooldown_after, day_window, needs_count, risk_check, zone


@dataclass
class Limits:
    handle: str = "brand"
    daily_post_limit: int | None = None
    cooldown_until: datetime | None = None
    cooldown_reason: str | None = None


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize(
    ("now", "tz", "start", "end"),
    [
        (utc(2026, 6, 10, 12), UTC, utc(2026, 6, 10), utc(2026, 6, 11)),
        # 23:30 in UTC is already tomorrow in Berlin (CEST, +2).
        (utc(2026, 6, 10, 23, 30), BERLIN, utc(2026, 6, 10, 22), utc(2026, 6, 11, 22)),
        # 01:00 UTC is still yesterday in New York (EDT, -4).
        (utc(2026, 6, 11, 1), NEW_YORK, utc(2026, 6, 10, 4), utc(2026, 6, 11, 4)),
        # Half-hour offsets (+5:30).
        (utc(2026, 1, 1, 18, 29), KOLKATA, utc(2025, 12, 31, 18, 30), utc(2026, 1, 1, 18, 30)),
        # Spring forward in Berlin: 29 March 2026 has 23 hours.
        (utc(2026, 3, 29, 12), BERLIN, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
        # Fall back in New York: 1 November 2026 has 25 hours.
        (utc(2026, 11, 1, 12), NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)),
        # Santiago skips midnight (00:00 -> 01:00 on 6 September 2026): the day starts at its first real instant.
        (utc(2026, 9, 6, 12), SANTIAGO, utc(2026, 9, 6, 4), utc(2026, 9, 7, 3)),
    ],
)
def test_the_day_window_is_the_local_calendar_day(now: datetime, tz: ZoneInfo, start: datetime, end: datetime) -> None:
    assert day_window(now, tz) == (start, end)
    assert start <= now < end


def test_the_window_edges_belong_to_one_day_only() -> None:
    start, end = day_window(utc(2026, 6, 10, 22), BERLIN)  # exactly local midnight
    assert start == utc(2026, 6, 10, 22)
    assert day_window(end - timedelta(microseconds=1), BERLIN) == (start, end)
    assert day_window(end, BERLIN)[0] == end


def test_an_unknown_or_missing_timezone_is_utc() -> None:
    assert zone(None) is UTC
    assert zone("") is UTC
    assert zone("Mars/Olympus_Mons") is UTC
    assert zone("Europe/Berlin") == BERLIN


def test_no_limits_allow_everything() -> None:
    verdict = risk_check(Limits(), published_today=10_000, now=utc(2026, 6, 10))
    assert (verdict.allowed, verdict.until, verdict.reason) == (True, None, None)
    assert not needs_count(Limits())
    assert needs_count(Limits(daily_post_limit=3))


def test_the_daily_limit_holds_until_the_next_local_midnight() -> None:
    account = Limits(daily_post_limit=5)
    now = utc(2026, 6, 10, 23, 30)  # 01:30 on 11 June in Berlin
    assert risk_check(account, 4, now, BERLIN).allowed
    verdict = risk_check(account, 5, now, BERLIN)
    assert (verdict.allowed, verdict.kind, verdict.until) == (False, "daily_limit", utc(2026, 6, 11, 22))
    assert verdict.reason == (
        "account @brand reached its daily limit of 5 posts; it resets at 2026-06-12T00:00:00+02:00 (Europe/Berlin)"
    )
    assert verdict.waiting_hint == "waiting: daily limit reached, resumes at 2026-06-11T22:00:00+00:00"
    # The same moment in UTC is still 10 June: the window ends at the UTC midnight.
    assert risk_check(account, 5, now, UTC).until == utc(2026, 6, 11)


def test_a_limit_of_one_speaks_of_one_post() -> None:
    verdict = risk_check(Limits(daily_post_limit=1), 1, utc(2026, 6, 10), UTC)
    assert "daily limit of 1 post;" in (verdict.reason or "")


def test_a_cooldown_blocks_until_it_ends_and_wins_over_the_limit() -> None:
    now = utc(2026, 6, 10, 12)
    until = now + timedelta(hours=30)  # longer than the day
    account = Limits(daily_post_limit=5, cooldown_until=until, cooldown_reason="the platform flagged it as spam")
    verdict = risk_check(account, 0, now, UTC)
    assert (verdict.allowed, verdict.kind, verdict.until) == (False, "cooldown", until)
    assert verdict.reason == (
        "account @brand is cooling down until 2026-06-11T18:00:00+00:00 after the platform flagged it as spam"
    )
    assert verdict.waiting_hint == "waiting: account cooling down, resumes at 2026-06-11T18:00:00+00:00"
    assert risk_check(account, 0, until, UTC).allowed  # the cooldown's end is the first allowed instant
    assert not risk_check(account, 0, until - timedelta(microseconds=1), UTC).allowed


def test_a_past_cooldown_leaves_the_daily_limit() -> None:
    now = utc(2026, 6, 10, 12)
    account = Limits(daily_post_limit=2, cooldown_until=now - timedelta(seconds=1))
    assert risk_check(account, 1, now, UTC).allowed
    assert risk_check(account, 2, now, UTC).kind == "daily_limit"


def test_a_handle_written_with_its_at_sign_is_not_doubled() -> None:
    verdict = risk_check(Limits(handle="@brand", daily_post_limit=1), 3, utc(2026, 6, 10), UTC)
    assert (verdict.reason or "").startswith("account @brand reached")


def test_a_rate_limit_cools_down_until_the_platforms_reset_or_the_default() -> None:
    now = utc(2026, 6, 10, 12)
    limits = {"rate_limit_s": 900.0, "spam_s": 86400.0}
    assert cooldown_after(PlatformFlag.RATE_LIMIT, now, retry_after_s=42, **limits) == now + timedelta(seconds=42)
    assert cooldown_after(PlatformFlag.RATE_LIMIT, now, retry_after_s=None, **limits) == now + timedelta(minutes=15)
    assert cooldown_after(PlatformFlag.RATE_LIMIT, now, retry_after_s=0, **limits) == now + timedelta(minutes=15)
    assert cooldown_after(PlatformFlag.SPAM, now, retry_after_s=42, **limits) == now + timedelta(hours=24)
