"""Trading-day partitions: one per NYSE session, weekends and holidays excluded, DST-correct windows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from assets.partitions import exchange_holidays, trading_day_partitions
from resources import DeploymentSettings
from torghut_sim.calendar import partition_day, partition_key, trading_days

START = date(2026, 1, 2)


@pytest.fixture(scope="module")
def keys_2026() -> list[str]:
    partitions = trading_day_partitions(START)
    return list(partitions.get_partition_keys(current_time=datetime(2027, 1, 1, 12)))


def test_partitions_are_exactly_the_calendar_sessions(keys_2026: list[str]) -> None:
    assert keys_2026 == [partition_key(d) for d in trading_days(START, date(2026, 12, 31))]
    assert len(keys_2026) == 251


@pytest.mark.parametrize(
    "holiday",
    ["2026-04-03", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25"],
)
def test_holidays_are_not_partitions(keys_2026: list[str], holiday: str) -> None:
    assert holiday not in keys_2026
    assert partition_day(holiday) in exchange_holidays(START, date(2026, 12, 31))


@pytest.mark.parametrize("early_close", ["2026-11-27", "2026-12-24"])
def test_early_closes_are_partitions(keys_2026: list[str], early_close: str) -> None:
    assert early_close in keys_2026


def test_days_around_holidays_are_partitions(keys_2026: list[str]) -> None:
    assert {"2026-04-02", "2026-04-06", "2026-06-18", "2026-07-02", "2026-07-06"} <= set(keys_2026)


def test_no_weekend_is_a_partition(keys_2026: list[str]) -> None:
    assert all(partition_day(k).weekday() < 5 for k in keys_2026)


@pytest.mark.parametrize(
    ("key", "offset_hours"),
    [("2026-03-06", -5), ("2026-03-09", -4), ("2026-10-30", -4), ("2026-11-02", -5)],
)
def test_partition_windows_follow_new_york_daylight_saving(key: str, offset_hours: int) -> None:
    window = trading_day_partitions(START).time_window_for_partition_key(key)
    assert window.start.utcoffset() == timedelta(hours=offset_hours)
    assert (window.start.hour, window.start.minute) == (0, 0)


def test_dst_weekends_neighbour_each_other(keys_2026: list[str]) -> None:
    # The spring-forward (Mar 8) and fall-back (Nov 1) Sundays fall between consecutive partitions.
    assert keys_2026[keys_2026.index("2026-03-06") + 1] == "2026-03-09"
    assert keys_2026[keys_2026.index("2026-10-30") + 1] == "2026-11-02"


def test_start_date_comes_from_the_environment() -> None:
    settings = DeploymentSettings.from_env({"TORGHUT_SIM_PARTITIONS_START": "2026-03-02"})
    partitions = trading_day_partitions(settings.partitions_start)
    assert partitions.get_first_partition_key() == "2026-03-02"
    assert DeploymentSettings.from_env({}).partitions_start == START
