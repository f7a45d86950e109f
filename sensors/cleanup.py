"""Finishing a crashed run's teardown: the cleanup job and the run-failure sensor that launches it.

A failed run whose run directory shows the runtime not restored gets a cleanup run, which restores the
runtime and Argo CD from `state.json` alone and unlocks (retried a bounded number of times, in the runtime
lane's pool so it never overlaps a live simulation). When the cleanup run itself fails, the run directory
is marked `manual_cleanup_required` and an operator takes over with `torghut-sim teardown`.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from resources import ArgoCdResource, SimulationConfigResource
from torghut_sim.calendar import partition_day
from torghut_sim.guards import GuardsRefusedError, guard_restore
from torghut_sim.layout import RunPaths
from torghut_sim.run_evidence import MANUAL_CLEANUP_STATUS, RunEvidence, restore_state
from torghut_sim.runtime.crash_cleanup import record_manual_cleanup, release_uncaptured_lock
from torghut_sim.runtime.teardown import teardown_run

CLEANUP_JOB = "restore_simulation_runtime"
CLEANUP_OP = "restore_runtime_from_state"
RUN_DIR_TAG = "torghut-sim/run-dir"
FAILED_RUN_TAG = "torghut-sim/failed-run"
TRADING_DAY_TAG = "torghut-sim/trading-day"
PARTITION_TAG = "dagster/partition"
CLEANUP_ATTEMPTS = 3


class CleanupConfig(dg.Config):
    """Which run directory to finish, and (from the stale-lock sensor) the dead lock holder."""

    run_dir: str
    # Set when a dead holder's lock is released even though it captured nothing (so patched nothing).
    lock_namespace: str | None = None
    lock_run_id: str | None = None
    lock_owner: str | None = None


def cleanup_already_requested(instance: dg.DagsterInstance, failed_run: str) -> bool:
    """Whether a cleanup run for this failed run (or dead lock owner) exists, from either sensor."""
    runs = instance.get_run_records(
        filters=dg.RunsFilter(job_name=CLEANUP_JOB, tags={FAILED_RUN_TAG: failed_run}), limit=1
    )
    return bool(runs)


def build_cleanup_job(pool: str) -> dg.JobDefinition:
    """The job that restores a crashed run's runtime, in the runtime lane's pool."""

    @dg.op(
        name=CLEANUP_OP,
        pool=pool,
        retry_policy=dg.RetryPolicy(
            max_retries=CLEANUP_ATTEMPTS - 1, delay=60, backoff=dg.Backoff.EXPONENTIAL
        ),
        tags={"kind": "kubernetes"},
    )
    def restore_runtime_from_state(
        context: dg.OpExecutionContext, config: CleanupConfig, argocd: ArgoCdResource
    ) -> dg.Output[str]:
        """Teardown, Argo CD restore and unlock from the run's state.json, recorded in run-state.json."""
        paths = RunPaths(Path(config.run_dir))
        before = restore_state(paths)
        if before.restored and not paths.state.exists() and before.reason == "nothing_captured":
            if not (config.lock_namespace and config.lock_run_id and config.lock_owner):
                return dg.Output("nothing_captured", metadata={"reason": before.reason})
            with argocd.cluster() as cluster:
                released = release_uncaptured_lock(
                    cluster.kube, paths, config.lock_namespace, config.lock_run_id, config.lock_owner
                )
            return dg.Output(released, metadata={"reason": before.reason})
        if before.restored:
            return dg.Output("already_restored", metadata={"reason": before.reason})
        try:
            guard_restore(paths, CLEANUP_JOB)
        except GuardsRefusedError as exc:
            # A refusal does not go away on retry; the run fails at once and is marked for a person.
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        with argocd.cluster() as cluster:
            outcome = teardown_run(
                cluster.kube,
                paths,
                started_by={"command": "dagster_cleanup", "dagster_run_id": context.run_id},
                argocd=cluster.argocd,
            )
        outcome.raise_if_failed()
        status = outcome.status
        return dg.Output(status, metadata={"run_dir": dg.MetadataValue.path(str(paths.root))})

    @dg.job(
        name=CLEANUP_JOB,
        # Retries happen inside the op (bounded); a run-level retry would only repeat them.
        tags={"dagster/max_retries": "0"},
        description="Restore the runtime and Argo CD a crashed simulation left patched, then unlock.",
    )
    def restore_simulation_runtime() -> None:
        restore_runtime_from_state()

    return restore_simulation_runtime


def on_failed_run(
    job_name: str,
    run_id: str,
    tags: Mapping[str, str],
    config: SimulationConfigResource,
    instance: dg.DagsterInstance | None = None,
) -> dg.RunRequest | dg.SkipReason:
    """What a failed run calls for: a cleanup run, a manual-cleanup mark, or nothing."""
    if job_name == CLEANUP_JOB:
        run_dir = tags.get(RUN_DIR_TAG)
        if not run_dir:
            return dg.SkipReason(f"cleanup run {run_id} names no run directory")
        record_manual_cleanup(RunPaths(Path(run_dir)), run_id)
        return dg.SkipReason(
            f"cleanup of {run_dir} failed after {CLEANUP_ATTEMPTS} attempts: {MANUAL_CLEANUP_STATUS}"
        )
    key = tags.get(PARTITION_TAG)
    if not key:
        return dg.SkipReason(f"run {run_id} of {job_name} is not a trading-day run")
    run = config.day_run(partition_day(key))
    evidence = RunEvidence.read(run.paths)
    if evidence.restore.restored:
        return dg.SkipReason(f"run {run_id} ({key}) left nothing to restore: {evidence.restore.reason}")
    # Only the run that captured the runtime may have it restored: another failed run of the same day
    # (a dump, another code location) must never tear down a simulation that is still going.
    if not evidence.held_by_dagster_run(run_id):
        return dg.SkipReason(
            f"run {run_id} ({key}) does not hold the captured runtime (owner {evidence.owner})"
        )
    if instance is not None and cleanup_already_requested(instance, run_id):
        # The stale-lock sensor found this run dead first and launched its cleanup already.
        return dg.SkipReason(f"run {run_id} ({key}): its cleanup run is already launched")
    return dg.RunRequest(
        run_key=f"cleanup-{run_id}",
        run_config={"ops": {CLEANUP_OP: {"config": {"run_dir": str(run.paths.root)}}}},
        tags={RUN_DIR_TAG: str(run.paths.root), FAILED_RUN_TAG: run_id, TRADING_DAY_TAG: key},
    )


def cleanup_sensor_options(cleanup_job: dg.JobDefinition, outcome: str) -> dict[str, Any]:
    """The options the failure and cancel sensors share; `outcome` ("failed") names the runs they read."""
    return {
        "request_job": cleanup_job,
        # Runs started with `dg launch` execute in process and carry no code-location origin; the
        # owner check in `on_failed_run` keeps foreign runs out.
        "monitor_all_code_locations": True,
        "default_status": dg.DefaultSensorStatus.RUNNING,
        "description": (
            f"Launch the runtime cleanup for a {outcome} simulation that left the runtime patched."
        ),
    }


def cleanup_for_ended_run(
    context: dg.RunStatusSensorContext, simulation_config: SimulationConfigResource
) -> dg.RunRequest | dg.SkipReason:
    """Turn one failed or cancelled run into a cleanup run (or a manual-cleanup mark, or nothing)."""
    run = context.dagster_run
    return on_failed_run(run.job_name, run.run_id, run.tags, simulation_config, context.instance)


def build_failure_sensor(cleanup_job: dg.JobDefinition) -> dg.SensorDefinition:
    """The run-failure sensor over every job of the code location."""
    return dg.run_failure_sensor(
        name="simulation_cleanup_on_failure", **cleanup_sensor_options(cleanup_job, "failed")
    )(cleanup_for_ended_run)
