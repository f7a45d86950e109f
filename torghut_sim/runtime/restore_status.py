"""Whether a run's runtime is back as captured: the one answer the status CLI, the checks and sensors share.

A restore is required when `restore-required.json` exists or `run-state.json` says so (`restore_required`,
`manual_cleanup_required`); a run whose capture was never retired by the unlock is not restored either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from torghut_sim.layout import RunPaths

MANUAL_CLEANUP_STATUS = "manual_cleanup_required"
# run-state.json statuses that mean a person or the cleanup job must still restore the runtime.
RESTORE_REQUIRED_STATUSES: frozenset[str] = frozenset({"restore_required", MANUAL_CLEANUP_STATUS})


@dataclass(frozen=True)
class RestoreState:
    """Whether the runtime a run patched is back to its captured baseline, and why we think so."""

    restored: bool
    reason: str


def recorded_status(paths: RunPaths) -> str | None:
    """The overall status in run-state.json (None when absent or unreadable)."""
    try:
        doc = json.loads(paths.run_state.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    status = doc.get("status") if isinstance(doc, dict) else None
    return str(status) if status is not None else None


def restore_required(paths: RunPaths) -> bool:
    """True when a restore failed and is still owed (the marker, or run-state.json, says so)."""
    return paths.restore_required.exists() or recorded_status(paths) in RESTORE_REQUIRED_STATUSES


def restore_state(paths: RunPaths) -> RestoreState:
    """Restored unless a restore is owed, or captured values were never retired by the unlock."""
    if paths.restore_required.exists():
        return RestoreState(False, "restore_required")
    status = recorded_status(paths)
    if status in RESTORE_REQUIRED_STATUSES:
        return RestoreState(False, str(status))
    if paths.state.exists():
        # The unlock retires state.json only after both restores succeeded; still here means unfinished.
        return RestoreState(False, f"runtime_not_restored (run status {status or 'unknown'})")
    if paths.state_restored.exists():
        return RestoreState(True, "restored")
    return RestoreState(True, "nothing_captured")
