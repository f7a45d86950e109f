"""The NYSE calendar: trading days, DST-correct session windows, early closes, completed days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_sim import calendar
from torghut_sim.calendar import (
    NEW_YORK,
    CalendarError,
    is_early_close,
    is_trading_day,
    nominal_session_window,
    previous_completed_trading_day,
    session_window,
    trading_days,
)

NY = ZoneInfo("America/New_York")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        # DST starts Sunday 2026-03-08: the Friday before is EST, the Monday after is EDT.
        (date(2026, 3, 6), "2026-03-06T14:30:00Z", "2026-03-06T21:00:00Z"),
        (date(2026, 3, 9), "2026-03-09T13:30:00Z", "2026-03-09T20:00:00Z"),
        # DST ends Sunday 2026-11-01.
        (date(2026, 10, 30), "2026-10-30T13:30:00Z", "2026-10-30T20:00:00Z"),
        (date(2026, 11, 2), "2026-11-02T14:30:00Z", "2026-11-02T21:00:00Z"),
    ],
)
def test_session_window_follows_daylight_saving(day: date, start: str, end: str) -> None:
    window = session_window(day)
    assert (window.session_start, window.session_end) == (_utc(start), _utc(end))
    assert window.session_minutes == 390
    assert not window.early_close


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 11, 26), "Thanksgiving"),
        (date(2026, 6, 19), "Juneteenth"),
        (date(2026, 7, 3), "Independence Day observed (July 4 is a Saturday)"),
        (date(2026, 1, 19), "Martin Luther King Jr. Day"),
        (date(2022, 12, 26), "Christmas observed (December 25 is a Sunday)"),
        (date(2026, 3, 7), "Saturday"),
        (date(2026, 3, 8), "Sunday"),
    ],
)
def test_holidays_and_weekends_are_not_trading_days(day: date, name: str) -> None:
    assert not is_trading_day(day), name
    with pytest.raises(CalendarError) as err:
        session_window(day)
    assert err.value.reason == "not_a_trading_day"
    assert day.isoformat() in err.value.message


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2026, 11, 27), "2026-11-27T14:30:00Z", "2026-11-27T18:00:00Z"),  # day after Thanksgiving
        (date(2026, 12, 24), "2026-12-24T14:30:00Z", "2026-12-24T18:00:00Z"),  # Christmas Eve
        (date(2025, 7, 3), "2025-07-03T13:30:00Z", "2025-07-03T17:00:00Z"),  # July 3 early close, EDT
        (date(2024, 7, 3), "2024-07-03T13:30:00Z", "2024-07-03T17:00:00Z"),
    ],
)
def test_early_close_ends_at_13_new_york(day: date, start: str, end: str) -> None:
    window = session_window(day)
    assert window.early_close and is_early_close(day)
    assert (window.session_start, window.session_end) == (_utc(start), _utc(end))
    assert window.session_minutes == 210
    assert window.session_end.astimezone(NY).hour == 13


@pytest.mark.parametrize("day", [date(2026, 7, 2), date(2026, 3, 6), date(2026, 12, 23)])
def test_regular_days_are_not_early_closes(day: date) -> None:
    assert not is_early_close(day)
    assert session_window(day).session_minutes == 390


def test_buffers_widen_only_the_dump_window() -> None:
    window = session_window(date(2026, 3, 9), pre_buffer_minutes=15, post_buffer_minutes=30)
    assert window.start == _utc("2026-03-09T13:15:00Z")
    assert window.end == _utc("2026-03-09T20:30:00Z")
    assert window.session_minutes == 390


def test_negative_buffer_is_refused() -> None:
    with pytest.raises(CalendarError) as err:
        session_window(date(2026, 3, 9), pre_buffer_minutes=-1)
    assert err.value.reason == "invalid_buffer"


def test_nominal_window_of_a_holiday_is_the_regular_session() -> None:
    window = nominal_session_window(date(2026, 7, 3))
    assert not window.is_trading_day
    assert (window.session_start, window.session_end) == (
        _utc("2026-07-03T13:30:00Z"),
        _utc("2026-07-03T20:00:00Z"),
    )


def test_trading_days_of_thanksgiving_week() -> None:
    assert trading_days(date(2026, 11, 23), date(2026, 11, 29)) == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 27),
    ]
    assert trading_days(date(2026, 11, 29), date(2026, 11, 23)) == []


def test_dates_outside_the_calendar_are_refused() -> None:
    with pytest.raises(CalendarError) as err:
        is_trading_day(date(1990, 1, 2))
    assert err.value.reason == "date_outside_calendar"


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # Monday after Good Friday, before the open: the Thursday before the holiday.
        (datetime(2026, 4, 6, 9, 0, tzinfo=NY), date(2026, 4, 2)),
        # The nightly schedule at 21:00 New York on that Monday: still the Thursday, never the same day.
        (datetime(2026, 4, 6, 21, 0, tzinfo=NY), date(2026, 4, 2)),
        # Tuesday 21:00 New York: Monday.
        (datetime(2026, 4, 7, 21, 0, tzinfo=NY), date(2026, 4, 6)),
        # An ordinary Monday at 21:00: the Friday before.
        (datetime(2026, 3, 9, 21, 0, tzinfo=NY), date(2026, 3, 6)),
        # Saturday: Friday.
        (datetime(2026, 3, 7, 12, 0, tzinfo=NY), date(2026, 3, 6)),
        # 01:00Z Wednesday is still Tuesday 21:00 in New York (EDT): Monday.
        (datetime(2026, 4, 8, 1, 0, tzinfo=UTC), date(2026, 4, 6)),
        # The Monday after the day after Thanksgiving (an early close): that Friday.
        (datetime(2026, 11, 30, 21, 0, tzinfo=NY), date(2026, 11, 27)),
        # The day after Thanksgiving itself: Wednesday (Thanksgiving is a holiday).
        (datetime(2026, 11, 27, 21, 0, tzinfo=NY), date(2026, 11, 25)),
        # Monday after July 3 observed holiday and the weekend.
        (datetime(2026, 7, 6, 8, 0, tzinfo=NY), date(2026, 7, 2)),
    ],
)
def test_previous_completed_trading_day(instant: datetime, expected: date) -> None:
    assert previous_completed_trading_day(instant) == expected


def test_previous_completed_trading_day_needs_an_aware_instant() -> None:
    with pytest.raises(CalendarError) as err:
        previous_completed_trading_day(datetime(2026, 4, 6, 21, 0))
    assert err.value.reason == "naive_datetime"


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2044, 12, 1), timezones=st.just(UTC)))
def test_previous_completed_day_is_closed_and_latest(instant: datetime) -> None:
    day = previous_completed_trading_day(instant)
    today = instant.astimezone(NY).date()
    assert day < today
    assert session_window(day).session_end <= instant
    # No trading day lies strictly between it and the instant's New York date.
    later = day + timedelta(days=1)
    while later < today:
        assert not is_trading_day(later)
        later += timedelta(days=1)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2044, 12, 31)))
def test_every_session_opens_0930_new_york(day: date) -> None:
    window = nominal_session_window(day)
    local_open = window.session_start.astimezone(NY)
    local_close = window.session_end.astimezone(NY)
    assert (local_open.hour, local_open.minute) == (9, 30)
    assert (local_close.hour, local_close.minute) in {(16, 0), (13, 0)}
    assert window.session_minutes == (210 if window.early_close else 390)


def test_the_cached_session_table_is_the_calendars_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORGHUT_SIM_CACHE_DIR", str(tmp_path))
    calendar.session_table.cache_clear()
    try:
        built = calendar.session_table()
        cached = calendar._read_cached(calendar.session_cache_file())
        assert cached == built == calendar.build_session_table()
        # Day by day through 2026, the table answers as the calendar's own per-day methods do.
        xnys = calendar._xnys()
        for n in range(365):
            day = date(2026, 1, 1) + timedelta(days=n)
            session = bool(xnys.is_session(day.isoformat()))
            assert (day.toordinal() in built.session_set) == session, day
            if session:
                close = xnys.session_close(day.isoformat()).to_pydatetime().astimezone(NEW_YORK).time()
                assert (day.toordinal() in built.early_closes) == (close < time(16)), day
        # A damaged cache file is rebuilt rather than trusted.
        calendar.session_cache_file().write_text("{not json")
        calendar.session_table.cache_clear()
        assert calendar.session_table() == built
    finally:
        calendar.session_table.cache_clear()
