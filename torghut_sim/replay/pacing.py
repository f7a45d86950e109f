"""Replay pacing: as fast as possible, at event time, or accelerated, with every sleep capped.

The pacer keeps a schedule instead of sleeping each raw gap, so time spent producing counts against
the gap and a paced replay does not drift behind the event clock. A gap longer than the cap is cut to
the cap: a quiet stretch in the data never stalls the replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torghut_sim.replay.errors import ReplayError

PaceMode = Literal["max_throughput", "event_time", "accelerated"]
PACE_MODES: tuple[PaceMode, ...] = ("max_throughput", "event_time", "accelerated")


@dataclass(frozen=True)
class PaceSettings:
    """How fast records are replayed; the defaults follow the manifest's `replay` section."""

    mode: PaceMode = "max_throughput"
    acceleration: float = 60.0
    max_sleep_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.mode not in PACE_MODES:
            raise ReplayError(f"unknown pace mode {self.mode!r}", reason="replay_pace_invalid")
        if self.mode == "accelerated" and self.acceleration <= 0:
            raise ReplayError("acceleration must be > 0", reason="replay_pace_invalid")

    @property
    def speed(self) -> float:
        """Event seconds per wall second (0 = unpaced)."""
        if self.mode == "event_time":
            return 1.0
        if self.mode == "accelerated":
            return self.acceleration
        return 0.0


class Pacer:
    """Sleeps between records so wall time follows event time at the configured speed."""

    def __init__(
        self,
        settings: PaceSettings,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        min_sleep_seconds: float = 0.001,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.min_sleep = min_sleep_seconds
        self.active = settings.speed > 0
        self._last_ts_ms: int | None = None
        self._deadline = 0.0
        self.slept_seconds = 0.0
        self.capped_gaps = 0

    def wait(self, timestamp_ms: int) -> None:
        """Block until the record with this timestamp is due."""
        if not self.active:
            return
        now = self.clock()
        if self._last_ts_ms is None:
            self._last_ts_ms = timestamp_ms
            self._deadline = now
            return
        gap = (timestamp_ms - self._last_ts_ms) / 1000.0 / self.settings.speed
        self._last_ts_ms = max(self._last_ts_ms, timestamp_ms)
        if gap <= 0:
            return
        cap = self.settings.max_sleep_seconds
        if cap > 0 and gap > cap:
            gap = cap
            self.capped_gaps += 1
        # Never let a backlog build credit beyond one gap: after a slow stretch we resume pacing from now.
        self._deadline = max(self._deadline, now - gap) + gap
        delay = self._deadline - now
        if cap > 0:
            delay = min(delay, cap)
        if delay >= self.min_sleep:
            self.sleep(delay)
            self.slept_seconds += delay
