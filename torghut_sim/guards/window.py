"""Guards on a run's window: ordered, long enough, and for the full-day profile exactly the NYSE session."""

from __future__ import annotations

from torghut_sim.calendar import NEW_YORK, CalendarError, nominal_session_window
from torghut_sim.guards.results import GuardRefusalError
from torghut_sim.manifest import WindowSpec
from torghut_sim.manifest.window import FULL_DAY_PROFILE

KNOWN_WINDOW_PROFILES: frozenset[str] = frozenset({FULL_DAY_PROFILE})


def check_window(window: WindowSpec, allow_non_trading_day: bool = False) -> None:
    """The window is ordered and long enough; the full-day profile is exactly the NYSE session."""
    if window.end <= window.start:
        raise GuardRefusalError(
            f"window end {window.end.isoformat()} is not after start {window.start.isoformat()}",
            reason="invalid_window",
        )
    if window.profile is None:
        return
    if window.profile not in KNOWN_WINDOW_PROFILES:
        raise GuardRefusalError(f"unknown window profile {window.profile!r}", reason="unknown_window_profile")
    if window.timezone != str(NEW_YORK):
        raise GuardRefusalError(
            f"profile {window.profile} requires timezone {NEW_YORK}, got {window.timezone!r}",
            reason="full_day_timezone",
        )
    day = window.trading_day or window.start.astimezone(NEW_YORK).date()
    try:
        session = nominal_session_window(day)
    except CalendarError as exc:
        raise GuardRefusalError(exc.message, reason=exc.reason) from None
    if not session.is_trading_day and not allow_non_trading_day:
        raise GuardRefusalError(f"{day.isoformat()} is not an NYSE trading day", reason="not_a_trading_day")
    if (window.start, window.end) != (session.session_start, session.session_end):
        raise GuardRefusalError(
            f"profile {window.profile} requires the session window {session.session_start.isoformat()}"
            f"..{session.session_end.isoformat()} of {day.isoformat()}, got "
            f"{window.start.isoformat()}..{window.end.isoformat()}",
            reason="full_day_window_mismatch",
        )
    minimum = window.min_coverage_minutes or 0
    if minimum < session.session_minutes:
        raise GuardRefusalError(
            f"min_coverage_minutes {minimum} is below the session length {session.session_minutes}",
            reason="min_coverage_too_low",
        )


def check_window_coverage(window: WindowSpec) -> None:
    """start..end spans at least min_coverage_minutes."""
    minimum = window.min_coverage_minutes or 0
    if window.minutes < minimum:
        raise GuardRefusalError(
            f"window is {window.minutes:g} minutes, shorter than min_coverage_minutes {minimum}",
            reason="window_shorter_than_coverage",
        )
