"""What a dump is asked for (window, files, source topics) and what it hands back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from torghut_sim.dump.marker import DumpMarker
from torghut_sim.topics import DUMPED_ROLES, ROLES_BY_NAME, simulation_topic

# The production source topic of every dumped role; tests and benchmarks inject their own names.
DEFAULT_SOURCE_TOPICS: Mapping[str, str] = {r.role: r.source for r in DUMPED_ROLES}


@dataclass(frozen=True)
class DumpRequest:
    """What to dump and where: window, session for coverage, files and source topic names."""

    window_start: datetime
    window_end: datetime
    dump_path: Path
    marker_path: Path
    session_start: datetime | None = None
    session_end: datetime | None = None
    source_topics: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SOURCE_TOPICS))
    run_token: str | None = None
    spill_dir: Path | None = None

    def replay_topic(self, role: str) -> str:
        """The `replay_topic` written into lines: the run's simulation topic, else its base topic."""
        if self.run_token:
            return simulation_topic(role, self.run_token)
        return ROLES_BY_NAME[role].simulation_base


@dataclass(frozen=True)
class DumpResult:
    """A finished (or reused) dump."""

    marker: DumpMarker
    dump_path: Path
    marker_path: Path
    reused: bool
    # Whether the file was written while consuming (see `DumpTuning.order_horizon_ms`).
    streamed: bool = False
