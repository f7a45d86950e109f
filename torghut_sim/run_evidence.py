"""One run directory's evidence, read in one place: status, restore, contamination, exports, ownership.

The assets, checks and sensors report what the domain wrote and never recompute it, so a check re-run
from the UI judges exactly the evidence the run left, and a sensor decides from the same files the
status command reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torghut_sim.dump.marker import DumpMarker
from torghut_sim.layout import RunPaths
from torghut_sim.runtime.restore_status import MANUAL_CLEANUP_STATUS, RestoreState, restore_state

__all__ = [
    "EMPTY_DAY",
    "MANUAL_CLEANUP_STATUS",
    "OWNER_PREFIX",
    "UNFINISHED_STATUSES",
    "RestoreState",
    "RunEvidence",
    "contamination_status",
    "dagster_owner",
    "dagster_run_of",
    "exported_rows",
    "finished_simulation",
    "guard_results",
    "is_empty_day",
    "read_json",
    "restore_state",
    "run_status",
]

# The lock and state.json name a Dagster run as their owner this way; the failure and stale-lock sensors
# match on it to find the run that holds (or held) a runtime.
OWNER_PREFIX = "dagster:"
# The dump marker's status of a day whose window holds no source records.
EMPTY_DAY = "empty_day"
# run-state.json statuses of a run whose process ended before its cleanup phases finished.
UNFINISHED_STATUSES: frozenset[str] = frozenset({"running", "tearing_down", "restore_required"})


def dagster_owner(run_id: str) -> str:
    """The owner a Dagster run's simulation writes into the lock and state.json."""
    return f"{OWNER_PREFIX}{run_id}"


def dagster_run_of(owner: str) -> str | None:
    """The Dagster run an owner names; None for an owner that is not a Dagster run (the CLI, a person)."""
    return owner.removeprefix(OWNER_PREFIX) if owner.startswith(OWNER_PREFIX) else None


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it cannot be read or is not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_status(paths: RunPaths) -> str | None:
    """The overall status recorded in run-state.json, None when the run never started."""
    doc = read_json(paths.run_state)
    status = doc.get("status") if doc else None
    return str(status) if status is not None else None


def contamination_status(paths: RunPaths) -> str | None:
    """`clean`, `contaminated` or `pending` from contamination.json; None when it was never written."""
    doc = read_json(paths.contamination)
    status = doc.get("status") if doc else None
    return str(status) if status is not None else None


def exported_rows(paths: RunPaths) -> dict[str, int]:
    """Rows per exported table from export-manifest.json (empty when nothing was exported)."""
    doc = read_json(paths.export_manifest) or {}
    files = doc.get("files") or {}
    return {str(t): int(f.get("rows", 0)) for t, f in sorted(files.items()) if isinstance(f, dict)}


def guard_results(paths: RunPaths) -> list[dict[str, Any]]:
    """The guard results recorded in plan.json."""
    doc = read_json(paths.plan) or {}
    guards = doc.get("guards") or []
    return [g for g in guards if isinstance(g, dict)]


def captured_owner(paths: RunPaths) -> str | None:
    """Who captured the runtime this run patched: from state.json, or from its retired copy once restored."""
    captured = read_json(paths.state) or read_json(paths.state_restored) or {}
    owner = captured.get("owner")
    return str(owner) if owner is not None else None


def is_empty_day(paths: RunPaths) -> bool:
    """Whether the day's dump found no source records (its marker says `empty_day`)."""
    return paths.dump_marker.exists() and DumpMarker.read(paths.dump_marker).status == EMPTY_DAY


def finished_simulation(paths: RunPaths) -> bool:
    """A simulation succeeded from the current dump, restored the runtime, stayed clean and exported."""
    replay = read_json(paths.replay_marker) or {}
    dump = DumpMarker.read(paths.dump_marker)
    return (
        run_status(paths) == "succeeded"
        and restore_state(paths).restored
        and contamination_status(paths) == "clean"
        and paths.export_manifest.exists()
        and replay.get("dump_sha256") == dump.payload_sha256
    )


@dataclass(frozen=True)
class RunEvidence:
    """What a run directory shows about its run, read at one moment."""

    paths: RunPaths
    status: str | None
    restore: RestoreState
    contamination: str | None
    owner: str | None

    @classmethod
    def read(cls, paths: RunPaths) -> RunEvidence:
        """Read the run's state, restore answer, contamination and owner from its directory."""
        return cls(
            paths=paths,
            status=run_status(paths),
            restore=restore_state(paths),
            contamination=contamination_status(paths),
            owner=captured_owner(paths),
        )

    def held_by_dagster_run(self, run_id: str) -> bool:
        """Whether this Dagster run captured the runtime (only its owner's failure may restore it)."""
        return self.owner == dagster_owner(run_id)

    @property
    def unfinished(self) -> bool:
        """Whether the run's process ended before its cleanup phases finished."""
        return self.status in UNFINISHED_STATUSES
