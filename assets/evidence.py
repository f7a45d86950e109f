"""Reading a run directory's evidence files (plan, markers, run state, contamination) for metadata and checks.

Pure functions over `RunPaths`: the assets, checks and sensors report what the domain wrote, never
recompute it, so a check re-run from the UI judges exactly the evidence the run left.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torghut_sim.layout import RunPaths

# The restore answer is the domain's (the status CLI gives the same); the checks ask it through here.
from torghut_sim.runtime.restore_status import MANUAL_CLEANUP_STATUS, RestoreState, restore_state

__all__ = [
    "MANUAL_CLEANUP_STATUS",
    "UNFINISHED_STATUSES",
    "RestoreState",
    "contamination_status",
    "exported_rows",
    "guard_results",
    "read_json",
    "restore_state",
    "run_status",
]

# run-state.json statuses of a run whose process ended before its cleanup phases finished.
UNFINISHED_STATUSES: frozenset[str] = frozenset({"running", "tearing_down", "restore_required"})


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it does not exist or is not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
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
