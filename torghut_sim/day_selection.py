"""The day planner: which New York dates of a range get a simulation, with their windows and batches.

`strict` plans only NYSE trading days. `skip-empty` plans every weekday (holidays get the nominal
09:30–16:00 window) and leaves an empty window to be detected by the dump as an `empty_day` status.
Weekends are never planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

from torghut_sim.calendar import SessionWindow, is_trading_day, nominal_session_window
from torghut_sim.errors import TorghutSimError

CalendarFilter = Literal["strict", "skip-empty"]
CALENDAR_FILTERS: tuple[str, ...] = get_args(CalendarFilter)
_SATURDAY = 5


class PlanningError(TorghutSimError):
    """A date range or planning option that cannot be planned."""

    reason = "planning_error"


@dataclass(frozen=True)
class PlannedDay:
    """One date that gets a simulation run, its window and the parallel batch it belongs to."""

    trading_day: date
    window: SessionWindow
    batch: int

    @property
    def is_trading_day(self) -> bool:
        """Whether the date is an NYSE session (false only for holidays under `skip-empty`)."""
        return self.window.is_trading_day


@dataclass(frozen=True)
class SkippedDay:
    """A date of the range that gets no run, and why (`weekend` or `holiday`)."""

    day: date
    reason: str


@dataclass(frozen=True)
class BatchPlan:
    """The planned days of a range, in date order, grouped into batches of at most `max_parallel_days`."""

    from_date: date
    to_date: date
    calendar_filter: CalendarFilter
    max_parallel_days: int
    days: tuple[PlannedDay, ...]
    skipped: tuple[SkippedDay, ...]

    @property
    def batches(self) -> tuple[tuple[PlannedDay, ...], ...]:
        """Days grouped by batch number; the days of one batch may be dumped in parallel."""
        count = max((d.batch for d in self.days), default=-1) + 1
        return tuple(tuple(d for d in self.days if d.batch == b) for b in range(count))


def parse_calendar_filter(value: str) -> CalendarFilter:
    """Validate a calendar filter name."""
    if value == "strict":
        return "strict"
    if value == "skip-empty":
        return "skip-empty"
    raise PlanningError(
        f"unknown calendar filter {value!r}; expected one of {', '.join(CALENDAR_FILTERS)}",
        reason="invalid_calendar_filter",
    )


def plan_batch(
    from_date: date,
    to_date: date,
    calendar_filter: str = "strict",
    max_parallel_days: int = 1,
    pre_buffer_minutes: int = 0,
    post_buffer_minutes: int = 0,
) -> BatchPlan:
    """Plan every run of an inclusive New York date range."""
    mode = parse_calendar_filter(calendar_filter)
    if from_date > to_date:
        raise PlanningError(
            f"from date {from_date.isoformat()} is after to date {to_date.isoformat()}",
            reason="invalid_date_range",
        )
    if max_parallel_days < 1:
        raise PlanningError(
            f"max_parallel_days must be >= 1, got {max_parallel_days}", reason="invalid_parallelism"
        )
    days: list[PlannedDay] = []
    skipped: list[SkippedDay] = []
    day = from_date
    while day <= to_date:
        if day.weekday() >= _SATURDAY:
            skipped.append(SkippedDay(day, "weekend"))
        elif mode == "strict" and not is_trading_day(day):
            skipped.append(SkippedDay(day, "holiday"))
        else:
            window = nominal_session_window(day, pre_buffer_minutes, post_buffer_minutes)
            days.append(PlannedDay(day, window, batch=len(days) // max_parallel_days))
        day += timedelta(days=1)
    return BatchPlan(from_date, to_date, mode, max_parallel_days, tuple(days), tuple(skipped))
