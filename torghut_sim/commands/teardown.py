"""`torghut-sim teardown`: restore the runtime and Argo CD from `state.json` alone, then unlock.

Works after a crash, from any process: everything it needs was captured before the first mutation.
"""

from __future__ import annotations

import argparse

from torghut_sim.guards import guard_restore
from torghut_sim.layout import RunPaths
from torghut_sim.runtime.cli_support import add_cluster_args, print_json, sigterm_raises
from torghut_sim.runtime.cluster import RuntimeCluster
from torghut_sim.runtime.inputs import RESTORE_MODES
from torghut_sim.runtime.teardown import teardown_run


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


def handle(args: argparse.Namespace) -> int:
    """Teardown, Argo CD restore and unlock, each recorded in run-state.json."""
    paths = RunPaths(args.run_dir)
    guard_restore(paths, "teardown")
    with RuntimeCluster.from_kubeconfig(args.kubeconfig) as cluster, sigterm_raises():
        outcome = teardown_run(cluster.kube, paths, args.restore_mode, argocd=cluster.argocd)
    print_json({"run_id": outcome.run_id, "status": outcome.status, "failed": list(outcome.failed)})
    outcome.raise_if_failed()
    return 0
