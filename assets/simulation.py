"""`replay_marker` + `simulation_outputs`: the one step that holds the runtime for a day's whole lifecycle.

The step runs in the runtime lane's pool, so simulations on one runtime never overlap (dumps of other days
still run in parallel). With several lanes configured, the pool has one slot per lane and the step claims
a free lane by taking its run lock before the lifecycle starts (which then reuses that lock). It calls
the domain lifecycle through one seam, `SimulationDay`, and reports the evidence the lifecycle left in
the run directory. An empty day is skipped before anything is provisioned.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dagster as dg

from assets.evidence import contamination_status, exported_rows, restore_state, run_status
from assets.manifest import GROUP
from assets.partitions import partition_day
from assets.progress import progress_logger
from resources import KubernetesResource, SimulationConfigResource
from resources.simulation import DayRun
from torghut_sim.dump.marker import DumpMarker
from torghut_sim.lanes import RuntimeLane, claim_lane, manifest_on_lane
from torghut_sim.lifecycle import SimulationOutcome, SimulationRequest, run_simulation_day
from torghut_sim.manifest import DatasetManifest, load_manifest
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.lock import release_lock

# The seam: one day's simulation, start to finish, restored before it returns or raises.
SimulationDay = Callable[[SimulationRequest], SimulationOutcome]
EMPTY_DAY = "empty_day"
# The lock and state.json name a Dagster run as their owner this way (the failure sensor matches on it).
OWNER_PREFIX = "dagster:"
SKIPPED_DOWNSTREAM: tuple[str, ...] = ("replay_marker", "simulation_outputs", "simulation_report")


def empty_day_skip(
    context: dg.AssetExecutionContext, run: DayRun, skipped: Sequence[str] = SKIPPED_DOWNSTREAM
) -> bool:
    """On an empty day, record the skip (with its reason) on each of `skipped` and return True."""
    marker = DumpMarker.read(run.paths.dump_marker)
    if marker.status != EMPTY_DAY:
        return False
    reason = f"{run.day.isoformat()} has no source records in its window; nothing is provisioned or replayed"
    context.log.info(f"skipping: {EMPTY_DAY}: {reason}")
    for key in skipped:
        # An observation is what makes the skipped day visible (with its reason) in each asset's history.
        context.log_event(
            dg.AssetObservation(
                asset_key=key,
                partition=context.partition_key,
                metadata={"skipped": EMPTY_DAY, "reason": reason, "dump_marker": str(run.paths.dump_marker)},
            )
        )
    return True


def replay_metadata(outcome: SimulationOutcome) -> dict[str, Any]:
    """What the UI shows of the replay: records by topic, pacing, duration and the dump it proves."""
    if outcome.replay is None:
        return {"status": "not_replayed"}
    marker = outcome.replay.marker
    return {
        "records": marker.records,
        "produced": outcome.replay.produced,
        "reused_marker": outcome.replay.skipped,
        "records_by_topic": dg.MetadataValue.json(marker.records_by_topic),
        "dump_sha256": marker.dump_sha256,
        "pace": dg.MetadataValue.json(marker.pace.model_dump(mode="json")),
        "duration_seconds": marker.duration_seconds,
    }


def outcome_metadata(run: DayRun, outcome: SimulationOutcome) -> dict[str, Any]:
    """What the UI shows of a finished simulation: status, replay, activity, exports, restore, evidence."""
    restore = restore_state(run.paths)
    summary = outcome.summary()
    return {
        "run_id": run.names.run_id,
        "status": outcome.run.status,
        "records_replayed": summary["records_replayed"],
        "replay_skipped": summary["replay_skipped"],
        "activity": dg.MetadataValue.json(summary["activity"] or {}),
        "cursor_at": summary["cursor_at"] or "",
        # False when the monitor ended before every stage consumed the window (see monitor.json).
        **({"inputs_complete": summary["inputs_complete"]} if summary["inputs_complete"] is not None else {}),
        "monitor": dg.MetadataValue.path(str(run.paths.monitor)),
        "exported_rows": dg.MetadataValue.json(exported_rows(run.paths)),
        "row_deltas": dg.MetadataValue.json(outcome.deltas),
        "contamination": outcome.contamination_status,
        "runtime_restored": restore.restored,
        "run_state": dg.MetadataValue.path(str(run.paths.run_state)),
        "outputs_dir": dg.MetadataValue.path(str(run.paths.outputs_dir)),
    }


def release_unstarted_claim(
    kubernetes: KubernetesResource, run: DayRun, manifest: DatasetManifest, identity: RunIdentity
) -> None:
    """Give back a claimed lane when the lifecycle failed before capturing anything to restore."""
    # With a capture on disk the lock stays: the failure sensor restores that state, then unlocks.
    if run.paths.state.exists():
        return
    with kubernetes.client() as kube:
        release_lock(kube, manifest.runtime.namespace, identity)


def build_simulation_assets(
    partitions: dg.PartitionsDefinition, pool: str, lifecycle: SimulationDay = run_simulation_day
) -> Sequence[Any]:
    """The simulation assets of a trading day, in `pool`, calling `lifecycle`; with their blocking checks."""

    @dg.multi_asset(
        name="simulate_day",
        partitions_def=partitions,
        pool=pool,
        specs=[
            dg.AssetSpec(
                "replay_marker",
                deps=["source_dump"],
                group_name=GROUP,
                kinds={"kafka"},
                skippable=True,
                description="Proof that the day's dump was replayed into the run's simulation topics.",
            ),
            dg.AssetSpec(
                "simulation_outputs",
                deps=["replay_marker"],
                group_name=GROUP,
                kinds={"kubernetes", "postgres", "clickhouse", "parquet"},
                skippable=True,
                description="The day replayed through the isolated runtime; Parquet exports of what it did.",
            ),
        ],
        # Never retried in-step: a second attempt would race the failure sensor's teardown of the first.
        description="Lock, freeze Argo CD, provision, patch, replay, monitor, export, restore, unlock.",
    )
    def simulate_day(
        context: dg.AssetExecutionContext,
        simulation_config: SimulationConfigResource,
        kubernetes: KubernetesResource,
    ) -> Iterator[dg.MaterializeResult[None]]:
        """Run the day's whole lifecycle (lock → … → unlock) and report its evidence; skip an empty day."""
        run = simulation_config.day_run(partition_day(context.partition_key))
        if empty_day_skip(context, run):
            return
        manifest = load_manifest(run.paths.manifest)
        # Stable per Dagster run: a resumed step reuses its own lock instead of waiting on itself.
        owner = f"{OWNER_PREFIX}{context.run.run_id}"
        identity = RunIdentity(run.names.run_id, run.names.run_token, manifest.dataset_id, owner)
        lanes = simulation_config.lanes()
        lane: RuntimeLane | None = None
        if lanes:
            with kubernetes.client() as kube:
                lane = claim_lane(
                    kube,
                    lanes,
                    identity,
                    first=run.day.toordinal(),
                    wait_seconds=simulation_config.lane_wait_seconds,
                    on_wait=context.log.info,
                )
            manifest = manifest_on_lane(manifest, lane)
            context.log.info(f"runtime lane {lane.name}: {lane.namespace}/{lane.torghut_service}")
        request = SimulationRequest(
            manifest=manifest,
            names=run.names,
            paths=run.paths,
            kubeconfig=kubernetes.kubeconfig_path,
            owner=owner,
            production_postgres_database=simulation_config.production_postgres_database,
            progress=progress_logger(context.log.info),
            # The blocking `no_contamination` check fails the run on it, with the evidence attached.
            raise_on_contamination=False,
        )
        try:
            outcome = lifecycle(request)
        except BaseException:
            if lane is not None:
                release_unstarted_claim(kubernetes, run, manifest, identity)
            raise
        lane_name = lane.name if lane is not None else simulation_config.runtime_lane
        yield dg.MaterializeResult(asset_key="replay_marker", metadata=replay_metadata(outcome))
        yield dg.MaterializeResult(
            asset_key="simulation_outputs",
            metadata={**outcome_metadata(run, outcome), "runtime_lane": lane_name},
        )

    @dg.asset_check(
        asset="simulation_outputs",
        blocking=True,
        description="Production shows nothing attributable to the run (contamination.json is clean).",
    )
    def no_contamination(
        context: dg.AssetCheckExecutionContext, simulation_config: SimulationConfigResource
    ) -> dg.AssetCheckResult:
        """Block the report unless the before/after production comparison came out clean."""
        run = simulation_config.day_run(partition_day(context.partition_key))
        status = contamination_status(run.paths)
        return dg.AssetCheckResult(
            passed=status == "clean",
            metadata={
                "status": status or "missing",
                "evidence": dg.MetadataValue.path(str(run.paths.contamination)),
            },
        )

    @dg.asset_check(
        asset="simulation_outputs",
        blocking=True,
        description="Every runtime and Argo CD field the run patched is back as captured, and unlocked.",
    )
    def runtime_restored(
        context: dg.AssetCheckExecutionContext, simulation_config: SimulationConfigResource
    ) -> dg.AssetCheckResult:
        """Block the report when the runtime was left patched (the failure sensor finishes the cleanup)."""
        run = simulation_config.day_run(partition_day(context.partition_key))
        restore = restore_state(run.paths)
        return dg.AssetCheckResult(
            passed=restore.restored,
            metadata={
                "reason": restore.reason,
                "run_status": run_status(run.paths) or "missing",
                "restore_required": dg.MetadataValue.path(str(run.paths.restore_required)),
            },
        )

    return [simulate_day, no_contamination, runtime_restored]
