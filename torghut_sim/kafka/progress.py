"""Progress of a long streaming phase (dump, merge, replay): records done, rate and time left."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One progress report of a phase."""

    phase: str
    records: int
    total: int | None
    rate: float
    eta_seconds: float | None
    elapsed_seconds: float
    done: bool = False


ProgressCallback = Callable[[Progress], None]
MIN_RATE_SECONDS = 0.05


class ProgressTracker:
    """Turns record counts into throttled `Progress` reports; a no-op without a callback."""

    def __init__(
        self,
        phase: str,
        callback: ProgressCallback | None,
        total: int | None = None,
        interval_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.phase = phase
        self.callback = callback
        self.total = total
        self.interval = interval_seconds
        self.clock = clock
        self.started = clock()
        self._next_report = self.started

    def update(self, records: int) -> None:
        """Report `records` done so far, at most once per interval."""
        if self.callback is None:
            return
        now = self.clock()
        if now >= self._next_report:
            self._next_report = now + self.interval
            self.callback(self._progress(records, now, done=False))

    def finish(self, records: int) -> None:
        """Report the final count of the phase."""
        if self.callback is not None:
            self.callback(self._progress(records, self.clock(), done=True))

    def _progress(self, records: int, now: float, done: bool) -> Progress:
        elapsed = max(now - self.started, 0.0)
        # A rate over a few microseconds (a first batch reported at once) means nothing: 0 = not known yet.
        rate = records / elapsed if elapsed >= MIN_RATE_SECONDS else 0.0
        eta: float | None = None
        if self.total is not None and rate > 0:
            eta = max(self.total - records, 0) / rate
        return Progress(self.phase, records, self.total, rate, eta, elapsed, done)


def stderr_progress_line(progress: Progress) -> str:
    """A compact one-line rendering for a terminal progress bar."""
    rate = f"{progress.rate:,.0f} rec/s"
    if progress.total:
        share = min(progress.records / progress.total, 1.0)
        bar = "#" * int(share * 20)
        eta = f" eta {progress.eta_seconds:,.0f}s" if progress.eta_seconds is not None else ""
        counts = f"{progress.records:,}/{progress.total:,}"
        return f"{progress.phase:<8} [{bar:<20}] {counts} {share:6.1%} {rate}{eta}"
    return f"{progress.phase:<8} {progress.records:,} records {rate}"
