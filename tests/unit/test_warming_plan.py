"""The warming plan's arithmetic: ramp days and quotas across days and timezones, the mix split over what a
platform allows, the run times spread over the active hours (DST included), all deterministic per account and day."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.errors import InvalidInput
from domain.identity.warming import (
    ActionMix,
    WarmingAction,
    WarmingConfig,
    active_window,
    allowed_mix,
    day_number,
    is_done,
    parse_config,
    plan_day,
    quota,
    split,
    spread,
    zone,
)

ALL = frozenset(WarmingAction)
BERLIN = ZoneInfo("Europe/Berlin")
MANILA = ZoneInfo("Asia/Manila")
NEW_YORK = ZoneInfo("America/New_York")


def config(**values: object) -> WarmingConfig:
    return parse_config({"startActionsPerDay": 2, "targetActionsPerDay": 20, "rampDays": 10, **values})


def test_quota_ramps_linearly_from_start_to_target_then_stays() -> None:
    plan = config()
    assert [quota(plan, d) for d in range(0, 13)] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 20, 20]


def test_quota_rounds_half_up_and_ramps_down_too() -> None:
    assert [quota(config(startActionsPerDay=1, targetActionsPerDay=4, rampDays=3), d) for d in (1, 2, 3)] == [1, 3, 4]
    assert [quota(config(startActionsPerDay=10, targetActionsPerDay=4, rampDays=4), d) for d in (1, 2, 3, 4)] == [
        10,
        8,
        6,
        4,
    ]
    assert quota(config(rampDays=1), 1) == 20


def test_day_number_counts_local_days_of_the_persona() -> None:
    # Started 23:30 UTC on March 1st: already March 2nd in Manila (UTC+8), still March 1st in New York.
    plan = config(startedAt="2026-03-01T23:30:00Z")
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert day_number(plan, now, UTC) == 2
    assert day_number(plan, now, MANILA) == 1
    assert day_number(plan, now, NEW_YORK) == 1
    assert day_number(plan, datetime(2026, 3, 11, 23, 59, tzinfo=UTC), UTC) == 11
    assert day_number(config(), now, UTC) == 0  # never started
    assert day_number(plan, datetime(2026, 2, 20, tzinfo=UTC), UTC) == 0  # before it starts


def test_day_number_across_a_dst_change_is_still_one_per_calendar_day() -> None:
    # Europe's clocks jump forward on 29 March 2026: that local day has 23 hours, and is still one day.
    plan = config(startedAt="2026-03-28T08:00:00+01:00")
    assert day_number(plan, datetime(2026, 3, 29, 22, 30, tzinfo=UTC), BERLIN) == 3  # 00:30 on the 30th in Berlin
    assert day_number(plan, datetime(2026, 3, 29, 21, 30, tzinfo=UTC), BERLIN) == 2  # 23:30 on the 29th
    assert day_number(plan, datetime(2026, 3, 28, 23, 30, tzinfo=UTC), BERLIN) == 2  # 00:30 on the 29th


def test_done_after_the_last_ramp_day() -> None:
    plan = config(rampDays=3)
    assert [is_done(plan, d) for d in (1, 3, 4)] == [False, False, True]


def test_mix_splits_by_weight_and_degrades_to_what_the_platform_allows() -> None:
    mix = ActionMix(view=4, like=3, follow=1, reply=1, post=1)
    assert split(10, allowed_mix(mix, ALL)) == {"view": 4, "like": 3, "follow": 1, "reply": 1, "post": 1}
    # LinkedIn/Facebook/Threads allow only posting: the whole day goes there.
    assert split(7, allowed_mix(mix, frozenset({WarmingAction.POST}))) == {WarmingAction.POST: 7}
    # Wanted actions none of which is allowed: the allowed ones share the day equally.
    only_likes = ActionMix(view=0, like=1, follow=0, reply=0, post=0)
    assert split(4, allowed_mix(only_likes, frozenset({WarmingAction.POST, WarmingAction.VIEW}))) == {
        WarmingAction.VIEW: 2,
        WarmingAction.POST: 2,
    }
    # Largest remainder: shares always add up to the quota.
    for count in range(0, 40):
        assert sum(split(count, allowed_mix(mix, ALL)).values()) == count
    assert split(3, {WarmingAction.VIEW: 1, WarmingAction.LIKE: 1}) == {WarmingAction.VIEW: 2, WarmingAction.LIKE: 1}


def test_active_window_in_the_persona_timezone_with_dst_and_midnight() -> None:
    plan = config(activeHours={"start": "09:00", "end": "17:00"})
    assert active_window(plan, date(2026, 1, 15), BERLIN) == (
        datetime(2026, 1, 15, 8, tzinfo=UTC),
        datetime(2026, 1, 15, 16, tzinfo=UTC),
    )
    assert active_window(plan, date(2026, 7, 15), BERLIN) == (
        datetime(2026, 7, 15, 7, tzinfo=UTC),
        datetime(2026, 7, 15, 15, tzinfo=UTC),
    )
    overnight = config(activeHours={"start": "22:00", "end": "02:00"})
    start, end = active_window(overnight, date(2026, 3, 28), BERLIN)  # the night the clocks jump at 02:00
    assert (start, end) == (datetime(2026, 3, 28, 21, tzinfo=UTC), datetime(2026, 3, 29, 1, tzinfo=UTC))
    # 02:30 does not exist on 29 March in Berlin: a window starting then begins just after the gap.
    skipped = config(activeHours={"start": "02:30", "end": "05:00"})
    assert active_window(skipped, date(2026, 3, 29), BERLIN)[0] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # Autumn: 01:00-03:00 on 25 October spans the repeated hour, so it lasts three real hours.
    autumn = config(activeHours={"start": "01:00", "end": "03:00"})
    window = active_window(autumn, date(2026, 10, 25), BERLIN)
    assert window[1] - window[0] == timedelta(hours=3)


def test_spread_stays_in_the_window_in_order_and_keeps_jitter_inside_each_slot() -> None:
    start, end = datetime(2026, 5, 1, 9, tzinfo=UTC), datetime(2026, 5, 1, 17, tzinfo=UTC)
    times = spread(8, start, end, jitter=timedelta(minutes=20), seed=42)
    assert times == sorted(times)
    assert len(times) == 8
    for i, moment in enumerate(times):
        centre = start + timedelta(hours=i, minutes=30)
        assert abs(moment - centre) <= timedelta(minutes=20)
    assert times == spread(8, start, end, jitter=timedelta(minutes=20), seed=42)  # deterministic per seed
    assert times != spread(8, start, end, jitter=timedelta(minutes=20), seed=43)
    assert spread(4, start, end, jitter=timedelta(0), seed=1) == [start + timedelta(hours=h) for h in (1, 3, 5, 7)]
    # Jitter larger than a slot is clamped to half a slot: neighbours never swap or bunch.
    wide = spread(16, start, end, jitter=timedelta(hours=5), seed=7)
    assert all(b - a >= timedelta(0) for a, b in itertools.pairwise(wide))
    # From the middle of the window, the rest spreads over what remains; after it, nothing runs.
    late = spread(2, start, end, jitter=timedelta(0), seed=1, not_before=datetime(2026, 5, 1, 13, tzinfo=UTC))
    assert late == [datetime(2026, 5, 1, 14, tzinfo=UTC), datetime(2026, 5, 1, 16, tzinfo=UTC)]
    assert spread(3, start, end, jitter=timedelta(0), seed=1, not_before=end) == []


def test_plan_day_is_deterministic_per_account_and_day_and_continues_after_done_today() -> None:
    plan = config(startedAt="2026-05-01T06:00:00Z", activeHours={"start": "09:00", "end": "17:00"}, jitterMinutes=10)
    now = datetime(2026, 5, 3, 8, tzinfo=UTC)  # day 3: quota 6
    first = plan_day(plan, "acc-1", now, UTC, ALL)
    assert (first.day, first.quota, len(first.actions)) == (3, 6, 6)
    assert first == plan_day(plan, "acc-1", now, UTC, ALL)
    assert [a.action for a in first.actions] != [a.action for a in plan_day(plan, "acc-2", now, UTC, ALL).actions] or (
        [a.at for a in first.actions] != [a.at for a in plan_day(plan, "acc-2", now, UTC, ALL).actions]
    )
    assert all(first.window[0] <= a.at <= first.window[1] for a in first.actions)
    # Two already done: the same day's remaining four, numbered on from 2, with the same kinds as the full plan.
    rest = plan_day(plan, "acc-1", now, UTC, ALL, done_today=2)
    assert [a.index for a in rest.actions] == [2, 3, 4, 5]
    assert [a.action for a in rest.actions] == [a.action for a in first.actions][2:]
    assert plan_day(plan, "acc-1", now, UTC, ALL, done_today=6).actions == ()


def test_plan_day_over_an_explicit_compressed_window() -> None:
    plan = config(startedAt="2026-05-01T06:00:00Z", jitterMinutes=0)
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    day = plan_day(plan, "a", now, UTC, ALL, window=(now, now + timedelta(seconds=4)))
    assert [a.at for a in day.actions] == [now + timedelta(seconds=1), now + timedelta(seconds=3)]


def test_plan_day_inside_last_nights_overnight_window() -> None:
    plan = config(startedAt="2026-05-01T06:00:00Z", activeHours={"start": "22:00", "end": "02:00"}, jitterMinutes=0)
    now = datetime(2026, 5, 3, 1, tzinfo=UTC)
    day = plan_day(plan, "a", now, UTC, ALL)
    assert day.window == (datetime(2026, 5, 2, 22, tzinfo=UTC), datetime(2026, 5, 3, 2, tzinfo=UTC))
    assert day.actions
    assert all(now <= a.at <= day.window[1] for a in day.actions)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"rampDays": 0}, "warmingConfig.rampDays"),
        ({"startActionsPerDay": -1}, "warmingConfig.startActionsPerDay"),
        ({"mix": {"view": 0, "like": 0, "follow": 0, "reply": 0, "post": 0}}, "warmingConfig.mix"),
        ({"mix": {"like": -2}}, "warmingConfig.mix.like"),
        ({"activeHours": {"start": "25:00", "end": "10:00"}}, "warmingConfig.activeHours.start"),
        ({"activeHours": {"start": "10:00", "end": "10:00"}}, "warmingConfig.activeHours"),
        ({"jitterMinutes": 10_000}, "warmingConfig.jitterMinutes"),
        ({"surprise": 1}, "warmingConfig.surprise"),
    ],
)
def test_bad_configs_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_config(raw)
    assert caught.value.field == field


def test_config_round_trips_through_its_stored_form() -> None:
    plan = config(activeHours={"start": "08:15", "end": "20:00"}, startedAt="2026-05-01T06:00:00+02:00")
    stored = plan.stored()
    assert stored["activeHours"] == {"start": "08:15", "end": "20:00"}
    assert parse_config(stored) == plan
    assert plan.active_hours.start == time(8, 15)
    assert zone(None) is UTC
    assert zone("Nowhere/Else") is UTC
    assert zone("Asia/Manila") == MANILA
