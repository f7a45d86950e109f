"""Finishing a run from its `state.json` alone: teardown, Argo CD restore and unlock, recorded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torghut_sim.errors import TorghutSimError
from torghut_sim.layout import RunPaths
from torghut_sim.runtime.argocd import ArgoCd, Mode
from torghut_sim.runtime.controller import RuntimeController
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import read_lock
from torghut_sim.runtime.restore import RestoreFailedError
from torghut_sim.runtime.signals import restore_shield
from torghut_sim.runtime.state_machine import Phases, RunStateLog, run_cleanup


def _holds_lock(kube: Kube, controller: RuntimeController) -> bool:
    try:
        holder = read_lock(kube, controller.targets.namespace)
    except TorghutSimError:
        # Unreachable now: the teardown phases record that failure (and the marker) themselves.
        return False
    identity = controller.identity
    return holder is not None and (holder.run_id, holder.owner) == (identity.run_id, identity.owner)


def _refuse() -> dict[str, Any]:
    raise AssertionError("finishing a run never locks, freezes or patches")


@dataclass(frozen=True)
class TeardownOutcome:
    """How finishing a run ended."""

    run_id: str
    status: str
    failed: tuple[str, ...]
    paths: RunPaths

    def raise_if_failed(self) -> None:
        """Refuse to call a run finished while any cleanup phase is left."""
        if self.failed:
            raise RestoreFailedError(
                f"teardown left {', '.join(self.failed)} unfinished; see {self.paths.restore_required}"
            )


def teardown_run(
    kube: Kube,
    paths: RunPaths,
    restore_mode: Mode | None = None,
    started_by: Mapping[str, Any] | None = None,
    argocd: ArgoCd | None = None,
) -> TeardownOutcome:
    """Restore what a run patched and release its lock; the outcome says which phases are left."""
    controller = RuntimeController.from_state(kube, paths, argocd=argocd)
    log = RunStateLog(paths.run_state, controller.identity.run_id)
    phases = Phases(
        lock=_refuse,
        argocd_prepare=_refuse,
        apply=_refuse,
        ready=_refuse,
        teardown=controller.teardown,
        argocd_restore=lambda: controller.restore_argocd(restore_mode),
        unlock=controller.release_lock,
    )
    if _holds_lock(kube, controller):
        # Renewed while this process restores, so the stale-lock sensor does not start a second cleanup.
        controller.start_heartbeat()
    # Signals wait until the outcome is recorded: an interrupted teardown would leave the status stale.
    with restore_shield():
        try:
            started = dict(started_by or {"command": "teardown"})
            log.append("run", "started", started, run_status="tearing_down")
            failed = run_cleanup(phases, log)
        finally:
            controller.stop_heartbeat()
        status = "restore_required" if failed else "torn_down"
        log.append("run", status, {"cleanup_failed": failed}, run_status=status)
    return TeardownOutcome(controller.identity.run_id, status, tuple(failed), paths)
