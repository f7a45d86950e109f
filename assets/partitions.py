"""The trading-day partitions: one per NYSE session day in America/New_York, weekends and holidays excluded.

Weekends are excluded by cron; exchange holidays by their dates from the XNYS calendar. Early-close days
are sessions, so they are partitions (their window is shorter, not absent).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from torghut_sim.calendar import CALENDAR_LAST_DAY, NEW_YORK, PARTITION_FORMAT, trading_days

# Midnight on Saturday and on Sunday: the weekend ticks of the daily cron.
WEEKEND_EXCLUSIONS: tuple[str, ...] = ("0 0 * * 6", "0 0 * * 0")


def exchange_holidays(start: date, end: date = CALENDAR_LAST_DAY) -> list[date]:
    """Weekdays in [start, end] on which the exchange is closed."""
    sessions = set(trading_days(start, end))
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5 and d not in sessions]


def trading_day_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """Daily partitions from `start` on the New York calendar, one per trading day."""
    holidays = [datetime(d.year, d.month, d.day) for d in exchange_holidays(start)]
    return dg.DailyPartitionsDefinition(
        start_date=start.strftime(PARTITION_FORMAT),
        timezone=str(NEW_YORK),
        fmt=PARTITION_FORMAT,
        exclusions=[*WEEKEND_EXCLUSIONS, *holidays],
    )
