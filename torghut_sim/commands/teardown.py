"""`torghut-sim teardown`: restore the runtime and Argo CD from `state.json` alone, then unlock.

Works after a crash, from any process: everything it needs was captured before the first mutation.
"""

from __future__ import annotations

import argparse

from torghut_sim.layout import RunPaths
from torghut_sim.runtime.cli_support import add_cluster_args, print_json, sigterm_raises
from torghut_sim.runtime.controller import RuntimeController
from torghut_sim.runtime.inputs import RESTORE_MODES
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.restore import RestoreFailedError
from torghut_sim.runtime.state_machine import Phases, RunStateLog, run_cleanup


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `teardown`."""
    parser = subparsers.add_parser("teardown", help="restore what a run patched (from state.json) and unlock")
    add_cluster_args(parser)
    parser.add_argument(
        "--restore-mode",
        choices=RESTORE_MODES,
        help="override the Argo CD restore mode recorded in state.json",
    )
    parser.set_defaults(handler=handle)


def _refuse() -> None:
    raise AssertionError("not a teardown phase")


def handle(args: argparse.Namespace) -> int:
    """Teardown, Argo CD restore and unlock, each recorded in run-state.json."""
    paths = RunPaths(args.run_dir)
    with Kube.from_kubeconfig(args.kubeconfig) as kube, sigterm_raises():
        controller = RuntimeController.from_state(kube, paths)
        log = RunStateLog(paths.run_state, controller.identity.run_id)
        phases = Phases(
            lock=_refuse,
            argocd_prepare=_refuse,
            apply=_refuse,
            ready=_refuse,
            teardown=controller.teardown,
            argocd_restore=lambda: controller.restore_argocd(args.restore_mode),
            unlock=controller.release_lock,
        )
        log.append("run", "started", {"command": "teardown"}, run_status="tearing_down")
        failed = run_cleanup(phases, log)
        status = "restore_required" if failed else "torn_down"
        log.append("run", status, {"cleanup_failed": failed}, run_status=status)
    print_json({"run_id": controller.identity.run_id, "status": status, "failed": failed})
    if failed:
        raise RestoreFailedError(
            f"teardown left {', '.join(failed)} unfinished; see {paths.restore_required}"
        )
    return 0
