"""Waiting for the runtime to process the replayed window: cursor progress and activity counts.

The runtime advances `trade_cursor` through the simulated window as it consumes signals; a run is
processed when the cursor has reached the window end (less `cursor_grace_seconds`). Activity minimums
are not waited for past that point: a quiet day is judged by the report's verdict, not by a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from torghut_sim.errors import TorghutSimError
from torghut_sim.manifest import MonitorSpec

ACTIVITY_TABLES: tuple[str, ...] = (
    "trade_decisions",
    "executions",
    "execution_tca_metrics",
    "execution_order_events",
    "llm_decision_reviews",
)


class MonitorTimeoutError(TorghutSimError):
    """The runtime did not reach the window end in time."""

    reason = "monitor_timeout"


@dataclass(frozen=True)
class RuntimeProgress:
    """One poll of the simulation database."""

    cursor_at: datetime | None
    counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures for run-state.json."""
        data = asdict(self)
        data["cursor_at"] = self.cursor_at.isoformat() if self.cursor_at else None
        return data


def read_progress(simulation_dsn: str) -> RuntimeProgress:
    """The cursor and the activity row counts of the simulation database."""
    with psycopg.connect(simulation_dsn, connect_timeout=10) as conn:
        row = conn.execute("select max(cursor_at) from trade_cursor").fetchone()
        counts: dict[str, int] = {}
        for table in ACTIVITY_TABLES:
            count = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(table))).fetchone()
            counts[table] = int(count[0]) if count else 0
    return RuntimeProgress(cursor_at=row[0] if row else None, counts=counts)


def reached_end(progress: RuntimeProgress, window_end: datetime, grace: timedelta) -> bool:
    """True when the cursor is within the grace of the window end."""
    return progress.cursor_at is not None and progress.cursor_at >= window_end - grace


def wait_for_window(
    simulation_dsn: str,
    window_end: datetime,
    spec: MonitorSpec,
    on_poll: Callable[[RuntimeProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RuntimeProgress:
    """Poll until the runtime has processed the window; `on_poll` may raise to stop (e.g. on drift)."""
    deadline = clock() + spec.timeout_seconds
    grace = timedelta(seconds=spec.cursor_grace_seconds)
    while True:
        progress = read_progress(simulation_dsn)
        if on_poll is not None:
            on_poll(progress)
        if reached_end(progress, window_end, grace):
            return progress
        if clock() >= deadline:
            cursor = progress.cursor_at.isoformat() if progress.cursor_at else "unset"
            raise MonitorTimeoutError(
                f"runtime cursor at {cursor} did not reach {window_end.isoformat()} within "
                f"{spec.timeout_seconds:.0f}s (counts: {progress.counts})"
            )
        sleep(spec.poll_seconds)
