"""`torghut-sim apply`: lock, capture, freeze Argo CD, patch TA and the runtime, wait until ready.

The runtime is left applied on success (tear it down with `torghut-sim teardown`); any failure or
interrupt before that tears down, restores Argo CD and unlocks in the same process.
"""

from __future__ import annotations

import argparse
import os
from datetime import timedelta

from pydantic import ValidationError

from torghut_sim.guards import guard_mutation, runtime_mutation
from torghut_sim.layout import RunPaths
from torghut_sim.manifest import WindowSpec
from torghut_sim.runtime.cli_support import add_cluster_args, print_json, sigterm_raises
from torghut_sim.runtime.cluster import RuntimeCluster
from torghut_sim.runtime.controller import ControlSettings, RuntimeController
from torghut_sim.runtime.inputs import (
    ARGO_MODES,
    RESTORE_MODES,
    InvalidRuntimeInputError,
    RunIdentity,
    RuntimeTargets,
    SimulationValues,
    default_owner,
)
from torghut_sim.runtime.knative import SimulationEnvInputs, simulation_env
from torghut_sim.runtime.lock import renew_lock
from torghut_sim.runtime.model import read_state
from torghut_sim.runtime.state_machine import MAIN_PHASES, RunStateLog, controller_phases, run_phases
from torghut_sim.runtime.ta import OFFSET_RESETS, ta_config_values


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `apply`."""
    parser = subparsers.add_parser("apply", help="lock and patch the simulation runtime for one run")
    add_cluster_args(parser)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--run-token", required=True)
    parser.add_argument("--dataset-id", required=True)
    parser.add_argument("--owner", help="lock owner (default: the one in state.json, else user@host:pid)")
    parser.add_argument("--namespace", default="torghut")
    parser.add_argument("--ta-configmap", default="torghut-ta-sim-config")
    parser.add_argument("--ta-deployment", default="torghut-ta-sim")
    parser.add_argument("--torghut-service", default="torghut-sim")
    parser.add_argument("--no-argocd", action="store_true", help="do not freeze Argo CD")
    parser.add_argument("--applicationset-name", default="product")
    parser.add_argument("--applicationset-namespace", default="argocd")
    parser.add_argument("--app-name", default="torghut")
    parser.add_argument("--root-app-name", default="root")
    parser.add_argument("--desired-mode", choices=ARGO_MODES, default="manual")
    parser.add_argument("--restore-mode", choices=RESTORE_MODES, default="previous")
    parser.add_argument(
        "--argocd-verify-timeout",
        type=float,
        default=600.0,
        help="seconds the frozen Argo CD mode may take to show on every object",
    )
    parser.add_argument("--window-start", required=True, help="ISO-8601 UTC")
    parser.add_argument("--window-end", required=True, help="ISO-8601 UTC")
    parser.add_argument("--simulation-database", required=True, help="torghut_sim_<run_token>")
    parser.add_argument("--clickhouse-url", required=True, help="ClickHouse HTTP URL (host:port used for TA)")
    parser.add_argument("--auto-offset-reset", choices=OFFSET_RESETS, default="earliest")
    parser.add_argument(
        "--db-dsn-env",
        default="TORGHUT_SIM_DB_DSN",
        help="environment variable holding the simulation Postgres DSN (never passed on the command line)",
    )
    parser.add_argument(
        "--override", action="append", default=[], metavar="KEY=VALUE", help="allow-listed env"
    )
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    parser.add_argument("--lock-max-age-hours", type=float, default=12.0)
    parser.add_argument("--through", choices=MAIN_PHASES, default="ready", help="last phase to run")
    parser.set_defaults(handler=handle)


def _overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidRuntimeInputError(f"--override {item!r} is not KEY=VALUE")
        out[key] = value
    return out


def _owner(args: argparse.Namespace, paths: RunPaths) -> str:
    if args.owner:
        return str(args.owner)
    if paths.state.exists():
        # A resumed run keeps the owner it locked with, so it can reuse and release its own lock.
        state = read_state(paths.state)
        if state.run_id == args.run_id:
            return state.owner
    return default_owner()


def _window(start: str, end: str) -> WindowSpec:
    """The window the run env will carry, parsed (ordered and zoned) before it is guarded."""
    try:
        return WindowSpec.model_validate({"start": start, "end": end})
    except ValidationError:
        raise InvalidRuntimeInputError(
            f"--window-start {start!r} / --window-end {end!r} are not ISO-8601 instants with a zone"
        ) from None


def handle(args: argparse.Namespace) -> int:
    """Run the phases through `--through` (default `ready`), cleaning up on any failure."""
    paths = RunPaths(args.run_dir)
    dsn = os.environ.get(args.db_dsn_env, "")
    if not dsn:
        raise InvalidRuntimeInputError(f"environment variable {args.db_dsn_env} (simulation DSN) is not set")
    identity = RunIdentity(args.run_id, args.run_token, args.dataset_id, _owner(args, paths))
    targets = RuntimeTargets(
        namespace=args.namespace,
        ta_configmap=args.ta_configmap,
        ta_deployment=args.ta_deployment,
        torghut_service=args.torghut_service,
        manage_argocd=not args.no_argocd,
        applicationset_name=args.applicationset_name,
        applicationset_namespace=args.applicationset_namespace,
        app_name=args.app_name,
        root_app_name=args.root_app_name,
        desired_mode_during_run=args.desired_mode,
        restore_mode_after_run=args.restore_mode,
        argocd_verify_timeout_seconds=args.argocd_verify_timeout,
    )
    env = simulation_env(
        SimulationEnvInputs(
            run_id=args.run_id,
            run_token=args.run_token,
            dataset_id=args.dataset_id,
            db_dsn=dsn,
            simulation_database=args.simulation_database,
            window_start=args.window_start,
            window_end=args.window_end,
            overrides=_overrides(args.override),
        )
    )
    values = SimulationValues(
        ta_config=ta_config_values(
            args.run_token, args.clickhouse_url, args.simulation_database, args.auto_offset_reset
        ),
        torghut_env=env,
    )
    # The same guards as `plan`, on the values this command will really write, before anything is.
    guard_mutation(
        runtime_mutation(
            "apply",
            args.run_id,
            args.run_token,
            args.torghut_service,
            values.ta_config,
            values.torghut_env,
            args.simulation_database,
            window=_window(args.window_start, args.window_end),
        )
    )
    settings = ControlSettings(
        ready_timeout_seconds=args.ready_timeout,
        poll_seconds=args.poll_seconds,
        lock_max_age=timedelta(hours=args.lock_max_age_hours),
    )
    with RuntimeCluster.from_kubeconfig(args.kubeconfig) as cluster, sigterm_raises():
        # Only once the cluster is reachable: a bad kubeconfig leaves no empty run directory behind.
        paths.root.mkdir(parents=True, exist_ok=True)
        controller = RuntimeController(
            cluster.kube, paths, targets, identity, values, settings, argocd=cluster.argocd
        )
        try:
            outcome = run_phases(
                controller_phases(controller), RunStateLog(paths.run_state, args.run_id), args.through
            )
        finally:
            controller.stop_heartbeat()
        if outcome.status == "applied":
            # Left applied on purpose: nobody renews the lock now, so it is leased for the max lock age
            # before the stale-lock sensor counts its holder as gone and tears the run down.
            renew_lock(cluster.kube, targets.namespace, identity, int(args.lock_max_age_hours * 3600))
    print_json({"run_id": args.run_id, "status": outcome.status, "run_dir": str(paths.root)})
    return 0
