"""The day planner: strict vs skip-empty, weekends, batches, refusals."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_sim.calendar import trading_days
from torghut_sim.day_selection import PlanningError, plan_batch


def test_strict_skips_holidays_and_weekends() -> None:
    plan = plan_batch(date(2026, 4, 1), date(2026, 4, 7), "strict")
    assert [d.trading_day for d in plan.days] == [
        date(2026, 4, 1),
        date(2026, 4, 2),
        date(2026, 4, 6),
        date(2026, 4, 7),
    ]
    assert [(s.day, s.reason) for s in plan.skipped] == [
        (date(2026, 4, 3), "holiday"),
        (date(2026, 4, 4), "weekend"),
        (date(2026, 4, 5), "weekend"),
    ]


def test_skip_empty_keeps_every_weekday_with_its_nominal_window() -> None:
    plan = plan_batch(date(2026, 4, 1), date(2026, 4, 7), "skip-empty")
    assert [d.trading_day for d in plan.days] == [
        date(2026, 4, 1),
        date(2026, 4, 2),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 4, 7),
    ]
    good_friday = plan.days[2]
    assert not good_friday.is_trading_day
    assert good_friday.window.session_minutes == 390
    assert [s.reason for s in plan.skipped] == ["weekend", "weekend"]


def test_windows_carry_buffers_and_early_closes() -> None:
    plan = plan_batch(date(2026, 11, 27), date(2026, 11, 27), pre_buffer_minutes=10, post_buffer_minutes=5)
    (day,) = plan.days
    assert day.window.early_close
    assert day.window.session_minutes == 210
    assert (day.window.session_start - day.window.start).total_seconds() == 600
    assert (day.window.end - day.window.session_end).total_seconds() == 300


def test_batches_respect_max_parallel_days() -> None:
    plan = plan_batch(date(2026, 3, 2), date(2026, 3, 13), max_parallel_days=3)
    assert [len(b) for b in plan.batches] == [3, 3, 3, 1]
    assert [d.trading_day for b in plan.batches for d in b] == [d.trading_day for d in plan.days]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"from_date": date(2026, 3, 10), "to_date": date(2026, 3, 9)}, "invalid_date_range"),
        ({"max_parallel_days": 0}, "invalid_parallelism"),
        ({"calendar_filter": "lenient"}, "invalid_calendar_filter"),
    ],
)
def test_refusals(kwargs: dict[str, object], reason: str) -> None:
    args: dict[str, object] = {"from_date": date(2026, 3, 2), "to_date": date(2026, 3, 6)} | kwargs
    with pytest.raises(PlanningError) as err:
        plan_batch(**args)  # type: ignore[arg-type]
    assert err.value.reason == reason


@settings(max_examples=40, deadline=None)
@given(
    st.dates(min_value=date(2001, 1, 1), max_value=date(2044, 11, 1)),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=1, max_value=5),
    st.sampled_from(["strict", "skip-empty"]),
)
def test_every_date_is_planned_or_skipped(start: date, span: int, parallel: int, mode: str) -> None:
    end = start + timedelta(days=span)
    plan = plan_batch(start, end, mode, parallel)
    planned = [d.trading_day for d in plan.days]
    assert len(planned) + len(plan.skipped) == span + 1
    assert all(d.weekday() < 5 for d in planned)
    if mode == "strict":
        assert planned == trading_days(start, end)
    else:
        assert set(trading_days(start, end)) <= set(planned)
    assert all(len(b) <= parallel for b in plan.batches)
