"""Which account changes let its waiting deliveries try again at once (domain.identity.risk.loosened)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from domain.identity.risk import loosened

NOON = datetime(2026, 5, 1, 12, tzinfo=UTC)


@dataclass
class Limits:
    daily_post_limit: int | None = None
    cooldown_until: datetime | None = None
    cooldown_reason: str | None = None
    handle: str = "brand"


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (Limits(cooldown_until=NOON), Limits(), True),  # cleared
        (Limits(cooldown_until=NOON), Limits(cooldown_until=NOON - timedelta(minutes=5)), True),  # shortened
        (Limits(cooldown_until=NOON), Limits(cooldown_until=NOON), False),
        (Limits(cooldown_until=NOON), Limits(cooldown_until=NOON + timedelta(hours=1)), False),  # longer
        (Limits(), Limits(cooldown_until=NOON), False),  # a new cooldown
        (Limits(daily_post_limit=3), Limits(daily_post_limit=4), True),
        (Limits(daily_post_limit=3), Limits(), True),  # no limit any more
        (Limits(daily_post_limit=3), Limits(daily_post_limit=2), False),
        (Limits(), Limits(daily_post_limit=5), False),
        (Limits(), Limits(), False),
    ],
)
def test_looser_limits(before: Limits, after: Limits, expected: bool) -> None:
    assert loosened(before, after) is expected
