"""What finishing a crashed run leaves on record: a dead holder's lock released, or a person called in."""

from __future__ import annotations

from torghut_sim.layout import RunPaths
from torghut_sim.run_evidence import MANUAL_CLEANUP_STATUS, read_json
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import release_lock
from torghut_sim.runtime.state_machine import RunStateLog


def release_uncaptured_lock(kube: Kube, paths: RunPaths, namespace: str, run_id: str, owner: str) -> str:
    """Release a dead holder's lock when its run directory shows nothing captured (nothing to restore)."""
    doc = read_json(paths.run_state) or {}
    token = paths.root.name
    identity = RunIdentity(run_id, token, str(doc.get("dataset_id") or token), owner)
    released = release_lock(kube, namespace, identity)
    RunStateLog(paths.run_state, run_id).append(
        "unlock",
        "succeeded" if released else "skipped",
        {"command": "dagster_cleanup", "note": "dead holder had captured nothing; lock released"},
        run_status="torn_down",
    )
    return "lock_released" if released else "lock_not_held"


def record_manual_cleanup(paths: RunPaths, cleanup_run_id: str) -> None:
    """Record in run-state.json that automatic cleanup gave up and a person must finish the teardown."""
    doc = read_json(paths.run_state) or {}
    RunStateLog(paths.run_state, str(doc.get("run_id") or "")).append(
        "run",
        MANUAL_CLEANUP_STATUS,
        {
            "cleanup_run": cleanup_run_id,
            "command": f"torghut-sim teardown --run-dir {paths.root} --kubeconfig <kubeconfig>",
        },
        run_status=MANUAL_CLEANUP_STATUS,
    )
