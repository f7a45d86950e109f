"""The manifest's replay window: UTC bounds, the full-day profile, coverage and dump buffers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from torghut_sim.calendar import MAX_BUFFER_MINUTES, NEW_YORK, CalendarError, nominal_session_window
from torghut_sim.manifest.section import Section

FULL_DAY_PROFILE = "us_equities_regular"
DEFAULT_STRICT_COVERAGE_RATIO = 0.95


class WindowSpec(Section):
    """The replay window in UTC; `profile: us_equities_regular` marks a full NYSE session."""

    profile: str | None = None
    trading_day: date | None = None
    timezone: str = "America/New_York"
    start: datetime
    end: datetime
    min_coverage_minutes: int | None = Field(default=None, ge=0)
    strict_coverage_ratio: float = Field(default=DEFAULT_STRICT_COVERAGE_RATIO, gt=0, le=1)
    # Buffers widen only the dump window; the full-day and coverage rules judge start..end.
    pre_buffer_minutes: int = Field(default=0, ge=0, le=MAX_BUFFER_MINUTES)
    post_buffer_minutes: int = Field(default=0, ge=0, le=MAX_BUFFER_MINUTES)

    @field_validator("start", "end")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        """Window bounds must carry a zone; they are normalized to UTC."""
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a time zone (e.g. a trailing Z)")
        return value.astimezone(UTC)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """The zone name must be a real IANA zone."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _defaults(self) -> WindowSpec:
        """Fill the trading day from start, and min coverage from the session (full day) or the window."""
        if self.trading_day is None:
            self.trading_day = self.start.astimezone(NEW_YORK).date()
        if self.min_coverage_minutes is None:
            self.min_coverage_minutes = self._default_min_coverage()
        return self

    def _default_min_coverage(self) -> int:
        """Session length for the full-day profile, else the window length."""
        if self.profile == FULL_DAY_PROFILE and self.trading_day is not None:
            try:
                return nominal_session_window(self.trading_day).session_minutes
            except CalendarError:
                pass  # out of calendar range: the guards report it; fall back to the window length
        return max(0, int((self.end - self.start).total_seconds() // 60))

    @property
    def minutes(self) -> float:
        """Length of start..end in minutes."""
        return (self.end - self.start).total_seconds() / 60

    @property
    def dump_start(self) -> datetime:
        """Start of the dump window: start minus the pre-buffer."""
        return self.start - timedelta(minutes=self.pre_buffer_minutes)

    @property
    def dump_end(self) -> datetime:
        """End of the dump window: end plus the post-buffer."""
        return self.end + timedelta(minutes=self.post_buffer_minutes)
