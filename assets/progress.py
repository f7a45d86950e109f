"""Progress of long domain phases (dump, merge, replay) as throttled Dagster log lines."""

from __future__ import annotations

import time
from collections.abc import Callable

from torghut_sim.kafka.progress import Progress

PROGRESS_LOG_SECONDS = 30.0


def progress_logger(
    log: Callable[[str], None],
    interval_seconds: float = PROGRESS_LOG_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Progress], None]:
    """A progress callback that logs at most once per interval, and always at the end of a phase."""
    last: dict[str, float] = {}

    def report(progress: Progress) -> None:
        now = clock()
        if progress.done or now - last.get(progress.phase, float("-inf")) >= interval_seconds:
            last[progress.phase] = now
            total = f"/{progress.total}" if progress.total is not None else ""
            rate = f", {progress.rate:,.0f}/s" if progress.rate > 0 else ""
            log(f"{progress.phase}: {progress.records}{total} records{rate}")

    return report
