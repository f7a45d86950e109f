"""The stale-lock sensor: the runtime of a lock holder that died (no heartbeat, or its run ended) is restored.

Whatever started the run (the UI, the schedule, a backfill, `dg launch`, the CLI), its process renews the
lock's heartbeat while it lives. A holder silent for longer than its lease, or whose Dagster run is over,
is dead: its Dagster run (if still STARTED) is reported failed and its runtime-pool slots are freed, so the
UI shows it and the cleanup can run; then the cleanup job restores the runtime from the run's state.json
and releases the lock. One cleanup per lock acquisition; a failed cleanup is the failure sensor's to mark.
"""

import json
import time
from pathlib import Path
from typing import Any

import dagster as dg

from resources import KubernetesResource, SimulationConfigResource
from sensors.cleanup import (
    CLEANUP_OP,
    FAILED_RUN_TAG,
    RUN_DIR_TAG,
    cleanup_already_requested,
)
from torghut_sim.layout import RunPaths
from torghut_sim.run_evidence import dagster_run_of
from torghut_sim.runtime.liveness import Liveness, Sighting, judge
from torghut_sim.runtime.lock import LockInfo, read_lock

STALE_LOCK_SENSOR = "stale_lock_cleanup"
LOCK_NAMESPACE_TAG = "torghut-sim/lock-namespace"
SENSOR_INTERVAL_SECONDS = 30


def lock_namespaces(config: SimulationConfigResource, kubernetes: KubernetesResource) -> list[str]:
    """Every runtime namespace whose lock a simulation of this deployment takes."""
    lanes = config.lanes()
    return sorted({lane.namespace for lane in lanes}) if lanes else [kubernetes.namespace]


def owner_run_id(holder: LockInfo) -> str | None:
    """The Dagster run that holds the lock, when a Dagster step took it."""
    return dagster_run_of(holder.owner)


def run_dir_of(holder: LockInfo, config: SimulationConfigResource) -> Path:
    """The holder's run directory: as the lock names it, else the deployment's for its run token."""
    named = Path(holder.run_dir) if holder.run_dir else None
    if named is not None and named.is_dir():
        return named
    return config.output_dir / holder.run_token


def fail_dead_run(instance: dg.DagsterInstance, run: dg.DagsterRun, why: str) -> bool:
    """Mark a dead run that still shows STARTED as failed and free its pool slots; True when it did."""
    if run.is_finished:
        return False
    message = f"the run's process is gone: {why}; its runtime is being restored"
    instance.report_run_failed(run, message=message)
    # Its step never gave back its runtime-pool slot; the cleanup op needs that slot.
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return True


def cleanup_request(holder: LockInfo, namespace: str, run_dir: Path, failed_run: str) -> dg.RunRequest:
    """The cleanup run for one dead lock acquisition (the run key makes it once per acquisition)."""
    acquired = holder.acquired_at.isoformat()
    return dg.RunRequest(
        run_key=f"stale-lock:{namespace}:{holder.run_id}:{holder.owner}:{acquired}",
        run_config={
            "ops": {
                CLEANUP_OP: {
                    "config": {
                        "run_dir": str(run_dir),
                        "lock_namespace": namespace,
                        "lock_run_id": holder.run_id,
                        "lock_owner": holder.owner,
                    }
                }
            }
        },
        tags={RUN_DIR_TAG: str(run_dir), FAILED_RUN_TAG: failed_run, LOCK_NAMESPACE_TAG: namespace},
    )


def evaluate(
    instance: dg.DagsterInstance,
    holders: dict[str, LockInfo | None],
    cursor: dict[str, Any],
    config: SimulationConfigResource,
    now: float,
) -> tuple[list[dg.RunRequest], list[str], dict[str, Any]]:
    """Per namespace: the verdict on its holder, and a cleanup request for each dead one."""
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    seen: dict[str, Any] = {}
    for namespace, holder in holders.items():
        if holder is None:
            notes.append(f"{namespace}: free")
            continue
        run_id = owner_run_id(holder)
        run = instance.get_run_by_id(run_id) if run_id else None
        verdict: Liveness = judge(
            holder, Sighting.from_json(cursor.get(namespace)), now, run is not None and run.is_finished
        )
        seen[namespace] = verdict.sighting.to_json()
        if not verdict.dead:
            notes.append(f"{namespace}: {holder.run_id} alive ({verdict.reason})")
            continue
        failed_run = run_id or holder.owner
        if cleanup_already_requested(instance, failed_run):
            notes.append(f"{namespace}: {holder.run_id} dead ({verdict.reason}); cleanup already launched")
            continue
        run_dir = run_dir_of(holder, config)
        if not RunPaths(run_dir).run_state.exists():
            notes.append(
                f"{namespace}: {holder.run_id} dead ({verdict.reason}) but its run directory {run_dir} is "
                f"not here; finish it with `torghut-sim teardown --run-dir <its run dir>` where it ran"
            )
            continue
        if run is not None and fail_dead_run(instance, run, verdict.reason):
            notes.append(f"{namespace}: Dagster run {run.run_id} marked failed")
        notes.append(f"{namespace}: {holder.run_id} dead ({verdict.reason}); cleanup of {run_dir} requested")
        requests.append(cleanup_request(holder, namespace, run_dir, failed_run))
    return requests, notes, seen


def build_stale_lock_sensor(cleanup_job: dg.JobDefinition) -> dg.SensorDefinition:
    """The sensor that restores the runtime of any run whose process died holding the lock."""

    @dg.sensor(
        name=STALE_LOCK_SENSOR,
        # By name: a sensor holding the job definition is copied (with a beta warning) when resources bind.
        job_name=cleanup_job.name,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Restore the runtime of a run whose process died holding the run lock (stale heartbeat).",
    )
    def stale_lock_cleanup(
        context: dg.SensorEvaluationContext,
        simulation_config: SimulationConfigResource,
        kubernetes: KubernetesResource,
    ) -> dg.SensorResult:
        """Read each lane's lock, judge its holder, and request the cleanup of a dead one."""
        cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        with kubernetes.client() as kube:
            holders = {ns: read_lock(kube, ns) for ns in lock_namespaces(simulation_config, kubernetes)}
        requests, notes, seen = evaluate(context.instance, holders, cursor, simulation_config, time.time())
        return dg.SensorResult(
            run_requests=requests,
            skip_reason=None if requests else "; ".join(notes),
            cursor=json.dumps(seen, sort_keys=True),
        )

    return stale_lock_cleanup
