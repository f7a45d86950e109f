"""How long a run's phases took, from the transitions in `run-state.json`: the figures a daily plot shows.

The replay and the monitor are the day's own work (records into the runtime, the runtime consuming them);
everything else a run does — lock, Argo CD freeze, provisioning, apply, readiness, export, teardown,
restore, unlock — is overhead, the share a faster orchestration would shrink.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Phases whose time is the day's own work; the rest of a run's wall time is overhead.
WORK_PHASES: frozenset[str] = frozenset({"replay", "monitor"})
# The pseudo-phase `run_phases` opens and closes around every attempt.
RUN_PHASE = "run"


@dataclass(frozen=True)
class RunTiming:
    """Seconds of a run: start to end of its last attempt, each phase, and the overhead beside the work."""

    run_seconds: float | None
    phase_seconds: dict[str, float]

    @property
    def work_seconds(self) -> float:
        """Seconds in the replay and monitor phases."""
        return sum(s for p, s in self.phase_seconds.items() if p in WORK_PHASES)

    @property
    def overhead_seconds(self) -> float | None:
        """The run's wall time outside the replay and the monitor (None when the run never ended)."""
        if self.run_seconds is None:
            return None
        return max(self.run_seconds - self.work_seconds, 0.0)


def _at(item: Mapping[str, Any]) -> datetime | None:
    raw = item.get("at")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def last_attempt(transitions: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The transitions from the last time the run started (a resumed run appends a second attempt)."""
    starts = [
        i for i, t in enumerate(transitions) if t.get("phase") == RUN_PHASE and t.get("status") == "started"
    ]
    return transitions[starts[-1] :] if starts else transitions


def run_timing(transitions: Sequence[Mapping[str, Any]]) -> RunTiming:
    """Seconds of the last attempt: per phase from `started` to the transition that ended it, and the run."""
    opened: dict[str, datetime] = {}
    spans: dict[str, float] = {}
    for item in last_attempt(transitions):
        phase, at = str(item.get("phase")), _at(item)
        if at is None:
            continue
        if item.get("status") == "started":
            opened[phase] = at
        elif phase in opened:
            spans[phase] = (at - opened.pop(phase)).total_seconds()
    run_seconds = spans.pop(RUN_PHASE, None)
    return RunTiming(run_seconds=run_seconds, phase_seconds=spans)
