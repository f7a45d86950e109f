"""The New York trading calendar: which dates are NYSE sessions and their UTC windows.

Trading days and early closes come from the `exchange_calendars` XNYS calendar; the session window is
09:30–16:00 America/New_York (13:00 on early-close days) converted to UTC with daylight saving applied.
Optional pre/post buffers widen the dump window only; coverage is always judged on the session itself.
The calendar's answers over the supported range are kept in a small JSON file per exchange_calendars
version (`~/.cache/torghut-sim`, or `TORGHUT_SIM_CACHE_DIR`): building the calendar imports pandas and
takes seconds, and every Dagster run loads the trading-day partitions from it.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from torghut_sim.errors import TorghutSimError

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR_NAME = "XNYS"
# The key of a trading day's daily partition (the Dagster partitions, the schedule, the sensors).
PARTITION_FORMAT = "%Y-%m-%d"
SESSION_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)
# Fixed bounds keep the calendar independent of today's date (exchange_calendars defaults to "now ± n").
CALENDAR_FIRST_DAY = date(2000, 1, 3)
CALENDAR_LAST_DAY = date(2045, 12, 29)
# Longest stretch without a session (weekend plus holidays) is far below this; it bounds the search.
_MAX_LOOKBACK_DAYS = 14


# A buffer widens the dump window around one session; a day either side is already more than a session
# needs, and larger values would overflow the window arithmetic.
MAX_BUFFER_MINUTES = 24 * 60


class CalendarError(TorghutSimError):
    """A date the calendar cannot answer for, or that is not a session when one is required."""

    reason = "calendar_error"


@dataclass(frozen=True)
class SessionTable:
    """Every XNYS session of the supported range (as ordinals, in order) and the early-close ones."""

    sessions: tuple[int, ...]
    early_closes: frozenset[int]

    @functools.cached_property
    def session_set(self) -> frozenset[int]:
        """The sessions as a set, for membership."""
        return frozenset(self.sessions)


def _xnys() -> Any:
    """The XNYS calendar over the fixed supported range."""
    import exchange_calendars  # noqa: PLC0415 - pandas; only a cache miss builds the calendar

    # exchange_calendars trips a pandas deprecation internally while building; nothing we can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return exchange_calendars.get_calendar(
            CALENDAR_NAME, start=CALENDAR_FIRST_DAY.isoformat(), end=CALENDAR_LAST_DAY.isoformat()
        )


def build_session_table() -> SessionTable:
    """The session table computed from the XNYS calendar itself."""
    calendar = _xnys()
    sessions: list[int] = []
    early: set[int] = set()
    for session, close in calendar.closes.items():
        day = session.date()
        sessions.append(day.toordinal())
        if close.to_pydatetime().astimezone(NEW_YORK).time() < REGULAR_CLOSE:
            early.add(day.toordinal())
    return SessionTable(tuple(sessions), frozenset(early))


def session_cache_file() -> Path:
    """Where the session table of the installed exchange_calendars version is kept."""
    root = os.environ.get("TORGHUT_SIM_CACHE_DIR") or Path.home() / ".cache" / "torghut-sim"
    version = metadata.version("exchange_calendars")
    span = f"{CALENDAR_FIRST_DAY.isoformat()}_{CALENDAR_LAST_DAY.isoformat()}"
    return Path(root) / f"{CALENDAR_NAME.lower()}-sessions-{version}-{span}.json"


def _read_cached(path: Path) -> SessionTable | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return SessionTable(tuple(int(d) for d in doc["sessions"]), frozenset(int(d) for d in doc["early"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cached(path: Path, table: SessionTable) -> None:
    doc = {"sessions": list(table.sessions), "early": sorted(table.early_closes)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        # A read-only home only costs the next process the calendar build; the answers are the same.
        return


@functools.lru_cache(maxsize=1)
def session_table() -> SessionTable:
    """The session table: from the cache file when present and readable, else built (and cached)."""
    path = session_cache_file()
    cached = _read_cached(path)
    if cached is not None and cached.sessions:
        return cached
    table = build_session_table()
    _write_cached(path, table)
    return table


def _check_range(day: date) -> None:
    """Refuse dates outside the range the calendar was built for, rather than guessing."""
    if not CALENDAR_FIRST_DAY <= day <= CALENDAR_LAST_DAY:
        raise CalendarError(
            f"{day.isoformat()} is outside the supported calendar range "
            f"{CALENDAR_FIRST_DAY.isoformat()}..{CALENDAR_LAST_DAY.isoformat()}",
            reason="date_outside_calendar",
        )


def is_trading_day(day: date) -> bool:
    """Whether a New York date is an NYSE session (not a weekend, not an exchange holiday)."""
    _check_range(day)
    return day.toordinal() in session_table().session_set


def is_early_close(day: date) -> bool:
    """Whether a trading day closes early (13:00 New York)."""
    return is_trading_day(day) and day.toordinal() in session_table().early_closes


def trading_days(from_date: date, to_date: date) -> list[date]:
    """Every trading day in the inclusive range, in order."""
    if from_date > to_date:
        return []
    _check_range(from_date)
    _check_range(to_date)
    sessions = session_table().sessions
    lo = bisect.bisect_left(sessions, from_date.toordinal())
    hi = bisect.bisect_right(sessions, to_date.toordinal())
    return [date.fromordinal(d) for d in sessions[lo:hi]]


@dataclass(frozen=True)
class SessionWindow:
    """The regular session of one New York date in UTC, and the dump window around it."""

    trading_day: date
    session_start: datetime
    session_end: datetime
    is_trading_day: bool
    early_close: bool
    pre_buffer_minutes: int = 0
    post_buffer_minutes: int = 0

    @property
    def session_minutes(self) -> int:
        """Length of the session itself (390, or 210 on an early close)."""
        return int((self.session_end - self.session_start).total_seconds() // 60)

    @property
    def start(self) -> datetime:
        """Start of the dump window: the session start minus the pre-buffer."""
        return self.session_start - timedelta(minutes=self.pre_buffer_minutes)

    @property
    def end(self) -> datetime:
        """End of the dump window: the session end plus the post-buffer."""
        return self.session_end + timedelta(minutes=self.post_buffer_minutes)


def _local_to_utc(day: date, at: time) -> datetime:
    """A New York wall-clock time on a date as an aware UTC datetime (DST applied by zoneinfo)."""
    return datetime.combine(day, at, tzinfo=NEW_YORK).astimezone(UTC)


def _build_window(day: date, trading: bool, early: bool, pre: int, post: int) -> SessionWindow:
    """Assemble a window after validating the buffers."""
    if not (0 <= pre <= MAX_BUFFER_MINUTES and 0 <= post <= MAX_BUFFER_MINUTES):
        raise CalendarError(
            f"buffers must be 0..{MAX_BUFFER_MINUTES} minutes, got pre={pre} post={post}",
            reason="invalid_buffer",
        )
    close = EARLY_CLOSE if early else REGULAR_CLOSE
    return SessionWindow(
        trading_day=day,
        session_start=_local_to_utc(day, SESSION_OPEN),
        session_end=_local_to_utc(day, close),
        is_trading_day=trading,
        early_close=early,
        pre_buffer_minutes=pre,
        post_buffer_minutes=post,
    )


def session_window(day: date, pre_buffer_minutes: int = 0, post_buffer_minutes: int = 0) -> SessionWindow:
    """The UTC session window of a trading day; a non-trading day is refused."""
    if not is_trading_day(day):
        raise CalendarError(f"{day.isoformat()} is not an NYSE trading day", reason="not_a_trading_day")
    return _build_window(day, True, is_early_close(day), pre_buffer_minutes, post_buffer_minutes)


def nominal_session_window(
    day: date, pre_buffer_minutes: int = 0, post_buffer_minutes: int = 0
) -> SessionWindow:
    """The session window of a trading day, or the regular 09:30–16:00 window of any other date."""
    trading = is_trading_day(day)
    early = trading and is_early_close(day)
    return _build_window(day, trading, early, pre_buffer_minutes, post_buffer_minutes)


def previous_completed_trading_day(instant: datetime) -> date:
    """The latest trading day before the New York date of `instant` (what the nightly run simulates).

    The day of the instant itself never counts, even after its close: the nightly schedule at 21:00 on a
    Monday simulates the previous Friday, so that late records of a session have settled in the source
    topics before it is dumped.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError(
            f"instant {instant.isoformat()} has no time zone; pass an aware datetime",
            reason="naive_datetime",
        )
    day = instant.astimezone(NEW_YORK).date() - timedelta(days=1)
    for _ in range(_MAX_LOOKBACK_DAYS):
        if is_trading_day(day):
            return day
        day -= timedelta(days=1)
    raise CalendarError(
        f"no completed trading day within {_MAX_LOOKBACK_DAYS} days before {instant.isoformat()}",
        reason="no_completed_trading_day",
    )


def partition_day(partition_key: str) -> date:
    """The trading day a daily partition key (`YYYY-MM-DD`) names."""
    return datetime.strptime(partition_key, PARTITION_FORMAT).date()


def partition_key(day: date) -> str:
    """The daily partition key of a trading day."""
    return day.strftime(PARTITION_FORMAT)
