"""The nightly schedule: 21:00 New York requests the latest completed trading day, one run key per day."""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg
import pytest

from sensors.schedule import NIGHTLY_CRON, build_nightly_schedule
from torghut_sim.calendar import NEW_YORK

SCHEDULE = build_nightly_schedule("simulate_trading_day", date(2026, 1, 2))


def _tick(day: date) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(day.year, day.month, day.day, 21, tzinfo=NEW_YORK)
    )
    result = SCHEDULE(context)
    assert isinstance(result, dg.RunRequest | dg.SkipReason)
    return result


@pytest.mark.parametrize(
    ("tick", "expected"),
    [
        (date(2026, 3, 9), "2026-03-06"),  # Monday → Friday
        (date(2026, 3, 10), "2026-03-09"),  # Tuesday → Monday
        (date(2026, 4, 6), "2026-04-02"),  # Monday after Good Friday → Thursday
        (date(2026, 4, 3), "2026-04-02"),  # Good Friday itself → Thursday
        (date(2026, 7, 6), "2026-07-02"),  # Monday after the July 3 observed holiday → Thursday
        (date(2026, 1, 20), "2026-01-16"),  # Tuesday after MLK day → Friday
        (date(2026, 11, 27), "2026-11-25"),  # Day after Thanksgiving → Wednesday
        (date(2026, 3, 7), "2026-03-06"),  # Saturday → Friday
        (date(2026, 3, 8), "2026-03-06"),  # Sunday (DST starts) → Friday
    ],
)
def test_requests_the_previous_completed_trading_day(tick: date, expected: str) -> None:
    result = _tick(tick)
    assert isinstance(result, dg.RunRequest)
    assert result.partition_key == expected
    assert result.run_key == f"nightly-{expected}"


def test_weekend_and_monday_ticks_share_one_run_key() -> None:
    keys = {_tick(date(2026, 3, d)).run_key for d in (7, 8, 9)}  # type: ignore[union-attr]
    assert keys == {"nightly-2026-03-06"}


def test_a_day_before_the_first_partition_is_skipped() -> None:
    assert isinstance(_tick(date(2026, 1, 2)), dg.SkipReason)


def test_runs_at_21_new_york() -> None:
    assert SCHEDULE.cron_schedule == NIGHTLY_CRON == "0 21 * * *"
    assert SCHEDULE.execution_timezone == "America/New_York"
    assert SCHEDULE.job_name == "simulate_trading_day"
