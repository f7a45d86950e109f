"""Session coverage of a dump: the share of session minutes with at least one record, and the span.

Coverage always judges the trading session, even when the dump window is widened by buffers. It is
computed from sorted chunks by binary search per minute, so it costs nothing per record.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from torghut_sim.dump.merge import prefix_timestamp, timestamp_key

MINUTE_MS = 60_000


class Coverage(BaseModel):
    """How well the records cover the session minutes."""

    model_config = ConfigDict(frozen=True)

    session_minutes: int
    covered_minutes: int
    ratio: float
    first_ts_ms: int | None
    last_ts_ms: int | None
    span_minutes: float


def session_minute_count(session_start_ms: int, session_end_ms: int) -> int:
    """Minutes of a session; a trailing partial minute counts as one."""
    if session_end_ms <= session_start_ms:
        return 0
    return -(-(session_end_ms - session_start_ms) // MINUTE_MS)


class CoverageAccumulator:
    """Accumulates covered session minutes and the first/last in-session timestamps."""

    def __init__(self, session_start_ms: int, session_end_ms: int) -> None:
        self.start = session_start_ms
        self.end = session_end_ms
        self.minutes = session_minute_count(session_start_ms, session_end_ms)
        self._covered = bytearray(self.minutes)
        self.first_ts_ms: int | None = None
        self.last_ts_ms: int | None = None

    def add_timestamps(self, timestamps: Iterable[int]) -> None:
        """Account records by their timestamps (any order)."""
        for ts in timestamps:
            if self.start <= ts < self.end:
                self._covered[(ts - self.start) // MINUTE_MS] = 1
                self._observe(ts, ts)

    def add_sorted_prefixed(self, chunk: Sequence[bytes]) -> None:
        """Account a sorted chunk of sort-prefixed lines, by binary search per session minute."""
        if not chunk or self.minutes == 0:
            return
        size = len(chunk)
        first = bisect.bisect_left(chunk, timestamp_key(self.start))
        last = bisect.bisect_left(chunk, timestamp_key(self.end)) - 1
        if first > last:
            return
        self._observe(prefix_timestamp(chunk[first]), prefix_timestamp(chunk[last]))
        pos = first
        for minute in range(self.minutes):
            if self._covered[minute]:
                continue
            lo_ts = self.start + minute * MINUTE_MS
            hi_ts = min(lo_ts + MINUTE_MS, self.end)
            pos = bisect.bisect_left(chunk, timestamp_key(lo_ts), pos, size)
            if pos >= size:
                break
            if prefix_timestamp(chunk[pos]) < hi_ts:
                self._covered[minute] = 1

    def add_minutes(self, minutes: Iterable[int], first_ts_ms: int | None, last_ts_ms: int | None) -> None:
        """Account covered session minutes (indexes from the session start) and in-session first/last."""
        for minute in minutes:
            if not 0 <= minute < self.minutes:
                raise ValueError(f"minute {minute} is outside the session's {self.minutes} minutes")
            self._covered[minute] = 1
        if first_ts_ms is not None and last_ts_ms is not None:
            self._observe(first_ts_ms, last_ts_ms)

    def _observe(self, first: int, last: int) -> None:
        if self.first_ts_ms is None or first < self.first_ts_ms:
            self.first_ts_ms = first
        if self.last_ts_ms is None or last > self.last_ts_ms:
            self.last_ts_ms = last

    def result(self) -> Coverage:
        """The coverage so far."""
        covered = sum(self._covered)
        span = 0.0
        if self.first_ts_ms is not None and self.last_ts_ms is not None:
            span = round((self.last_ts_ms - self.first_ts_ms) / MINUTE_MS, 3)
        return Coverage(
            session_minutes=self.minutes,
            covered_minutes=covered,
            ratio=round(covered / self.minutes, 6) if self.minutes else 0.0,
            first_ts_ms=self.first_ts_ms,
            last_ts_ms=self.last_ts_ms,
            span_minutes=span,
        )


def compute_coverage(timestamps: Iterable[int], session_start_ms: int, session_end_ms: int) -> Coverage:
    """Coverage of a session by a set of record timestamps."""
    acc = CoverageAccumulator(session_start_ms, session_end_ms)
    acc.add_timestamps(timestamps)
    return acc.result()
