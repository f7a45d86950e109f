"""`torghut-sim status`: the runtime lock holder, Argo CD mode, and runtime diff from the baseline."""

from __future__ import annotations

import argparse

from torghut_sim.runtime.cli_support import add_cluster_args, print_json, run_paths_of
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.model import read_state
from torghut_sim.runtime.status import status_report


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `status`."""
    parser = subparsers.add_parser("status", help="lock holder, Argo CD mode and runtime diff of a run")
    add_cluster_args(parser, run_dir_required=False)
    parser.add_argument("--namespace", help="runtime namespace (default: from state.json, else torghut)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the status report as JSON."""
    paths = run_paths_of(args)
    namespace = args.namespace
    if namespace is None:
        namespace = read_state(paths.state).lock_namespace if paths and paths.state.exists() else "torghut"
    with Kube.from_kubeconfig(args.kubeconfig) as kube:
        print_json(status_report(kube, namespace, paths))
    return 0
