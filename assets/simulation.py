"""`replay_marker` + `simulation_outputs`: the day on the runtime, decided before any runtime slot is taken.

A small graph: the gate (no pool) reads the day's evidence and picks one of three ways — an empty day
(materialized with `status: empty_day` and its reason), a day already simulated from this very dump
(its outcome reused unless the run asks for a fresh simulation) or a simulation. Only the simulation step
runs in the runtime lane's pool, so an empty or finished day never waits for nor holds a lane, and
simulations on one runtime never overlap. With several lanes configured, the pool has one slot per lane
and the step claims a free lane by taking its run lock. The lifecycle is called through one seam,
`SimulationDay`; the record step turns whichever way was taken into the two materializations.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from assets.day_checks import day_check
from assets.figures import figure, figures
from assets.manifest import GROUP
from assets.progress import progress_logger
from resources import ArgoCdResource, KubernetesResource, RunClientsResource, SimulationConfigResource
from resources.simulation import DayRun
from torghut_sim.lane_claim import claimed_lane
from torghut_sim.manifest.changes import manifest_changes, record_simulated_manifest
from torghut_sim.run_evidence import (
    EMPTY_DAY,
    contamination_status,
    dagster_owner,
    exported_rows,
    finished_simulation,
    is_empty_day,
    read_json,
    restore_state,
    run_status,
)
from torghut_sim.runtime.phase_timing import run_timing

if TYPE_CHECKING:
    from torghut_sim.lifecycle import SimulationOutcome, SimulationRequest

# The seam: one day's simulation, start to finish, restored before it returns or raises.
SimulationDay = Callable[["SimulationRequest"], "SimulationOutcome"]


def run_simulation_day(request: "SimulationRequest") -> "SimulationOutcome":
    """The domain lifecycle, imported on first use (it pulls in every store and runtime client)."""
    from torghut_sim.lifecycle import run_simulation_day as lifecycle  # noqa: PLC0415

    return lifecycle(request)


SIMULATED = "simulated"
REUSED = "reused"
# A run (or backfill) tagged with this set to "true" simulates again even when the day is already done.
FRESH_SIMULATION_TAG = "torghut-sim/fresh-simulation"
GATE_OP = "simulation_gate"
SIMULATE_OP = "simulate_on_runtime"
RECORD_OP = "record_simulation"
DAY_OUTPUTS: tuple[str, str] = ("replay_marker", "simulation_outputs")
# Metadata of both assets, by asset key, as the record step materializes it.
DayMetadata = dict[str, dict[str, Any]]


def empty_day_reason(run: DayRun) -> str:
    """Why an empty day is not simulated, in one line."""
    return f"{run.day.isoformat()} has no source records in its window; nothing is provisioned or replayed"


def empty_day_metadata(run: DayRun) -> DayMetadata:
    """What both assets show for an empty day: the status, its reason and the dump marker that proves it."""
    base = {
        "status": EMPTY_DAY,
        "reason": empty_day_reason(run),
        "run_id": run.names.run_id,
        "records": 0,
        "dump_marker": dg.MetadataValue.path(str(run.paths.dump_marker)),
    }
    return {"replay_marker": dict(base), "simulation_outputs": {**base, "runtime_lane": "none"}}


def changes_text(changes: list[str] | None) -> str:
    """The manifest sections changed since the reused simulation, in words."""
    if changes is None:
        return "unknown (the simulation left no record of its manifest)"
    return ", ".join(changes) if changes else "none"


def reused_metadata(run: DayRun, changes: list[str] | None) -> DayMetadata:
    """What both assets show when a finished simulation of the same dump is reused."""
    replay = read_json(run.paths.replay_marker) or {}
    reason = "this dump was already simulated and the runtime restored; tag the run to simulate afresh"
    if changes:
        reason += f" (the manifest's {', '.join(changes)} changed since: this outcome predates them)"
    common = {
        "status": REUSED,
        "reason": reason,
        "run_id": run.names.run_id,
        "manifest_changes": changes_text(changes),
    }
    return {
        "replay_marker": {
            **common,
            "records": int(replay.get("records") or 0),
            "dump_sha256": str(replay.get("dump_sha256") or ""),
            "reused_marker": True,
        },
        "simulation_outputs": {
            **common,
            "exported_rows": dg.MetadataValue.json(exported_rows(run.paths)),
            "contamination": contamination_status(run.paths) or "missing",
            "runtime_restored": True,
            "run_state": dg.MetadataValue.path(str(run.paths.run_state)),
            "outputs_dir": dg.MetadataValue.path(str(run.paths.outputs_dir)),
        },
    }


def restore_commands_owed(run: DayRun) -> int:
    """How many restore commands restore-required.json still lists (0 when none is owed)."""
    phases = (read_json(run.paths.restore_required) or {}).get("phases") or {}
    return sum(len(p.get("commands") or []) for p in phases.values() if isinstance(p, dict))


def replay_metadata(outcome: "SimulationOutcome") -> dict[str, Any]:
    """What the UI shows of the replay: records by topic, pacing, duration and the dump it proves."""
    if outcome.replay is None:
        return {"status": "not_replayed"}
    marker = outcome.replay.marker
    return {
        "status": SIMULATED,
        **figures(
            {
                "records": marker.records,
                "produced": outcome.replay.produced,
                "duration_seconds": marker.duration_seconds,
            }
        ),
        "reused_marker": outcome.replay.skipped,
        "records_by_topic": dg.MetadataValue.json(marker.records_by_topic),
        "dump_sha256": marker.dump_sha256,
        "pace": dg.MetadataValue.json(marker.pace.model_dump(mode="json")),
    }


def timing_figures(run: DayRun) -> dict[str, dg.MetadataValue]:
    """The run's wall time, its replay and monitor time and the overhead around them (run-state.json)."""
    timing = run_timing((read_json(run.paths.run_state) or {}).get("transitions") or [])
    return figures(
        {
            "run_seconds": timing.run_seconds,
            "replay_seconds": timing.phase_seconds.get("replay"),
            "monitor_seconds": timing.phase_seconds.get("monitor"),
            "overhead_seconds": timing.overhead_seconds,
        }
    )


def outcome_metadata(run: DayRun, outcome: "SimulationOutcome") -> dict[str, Any]:
    """What the UI shows of a finished simulation: status, replay, activity, exports, restore, evidence."""
    restore = restore_state(run.paths)
    summary = outcome.summary()
    return {
        "status": SIMULATED,
        "run_id": run.names.run_id,
        "run_status": outcome.run.status,
        "records_replayed": figure(summary["records_replayed"]),
        "replay_skipped": summary["replay_skipped"],
        "activity": dg.MetadataValue.json(summary["activity"] or {}),
        # Each activity count on its own, so the UI plots the runtime's output day by day.
        **figures({str(table): int(count) for table, count in (summary["activity"] or {}).items()}),
        **timing_figures(run),
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


class GateConfig(dg.Config):
    """Launchpad config of the gate (`ops: simulate_day: ops: simulation_gate: config:`)."""

    fresh_simulation: bool = Field(
        default=False,
        description="Simulate again even when this day was already simulated from the same dump.",
    )


def wants_fresh_simulation(tags: dict[str, str], config: GateConfig) -> bool:
    """Whether the run asks to simulate again a day that is already done (by config or by run tag)."""
    tagged = tags.get(FRESH_SIMULATION_TAG, "").strip().lower() in {"1", "true", "yes"}
    return config.fresh_simulation or tagged


def build_simulation_assets(
    partitions: dg.PartitionsDefinition, pool: str, lifecycle: SimulationDay = run_simulation_day
) -> Sequence[Any]:
    """The simulation assets of a trading day (only the simulation step in `pool`), with blocking checks."""

    @dg.op(
        name=GATE_OP,
        ins={"source_dump": dg.In(dg.Nothing)},
        out={
            # Nothing-typed: only its presence matters, so no I/O manager stands between gate and step.
            "simulate": dg.Out(dg.Nothing, is_required=False),
            "settled": dg.Out(dict, is_required=False),
        },
        description="Empty day, already simulated, or to simulate: decided before a runtime slot is taken.",
    )
    def simulation_gate(
        context: dg.OpExecutionContext, config: GateConfig, simulation_config: SimulationConfigResource
    ) -> Iterator[dg.Output[Any]]:
        """Send the day to the pooled simulation, or settle it here (empty day, reused outcome)."""
        run = simulation_config.partition_run(context.partition_key)
        if is_empty_day(run.paths):
            context.log.info(f"{EMPTY_DAY}: {empty_day_reason(run)}")
            yield dg.Output(empty_day_metadata(run), "settled")
        elif finished_simulation(run.paths) and not wants_fresh_simulation(dict(context.run.tags), config):
            changes = manifest_changes(run.paths)
            context.log.info(
                f"{run.names.run_id} was already simulated from this dump; reusing its outcome "
                f"(tag the run {FRESH_SIMULATION_TAG}=true or set fresh_simulation to simulate afresh)"
            )
            if changes:
                context.log.warning(
                    f"the manifest's {', '.join(changes)} changed since {run.names.run_id} was simulated; "
                    "the reused outcome does not reflect them"
                )
            yield dg.Output(reused_metadata(run, changes), "settled")
        else:
            yield dg.Output(None, "simulate")

    @dg.op(
        name=SIMULATE_OP,
        ins={"simulate": dg.In(dg.Nothing)},
        pool=pool,
        # Never retried in-step: a second attempt would race the failure sensor's teardown of the first.
        description="Lock, freeze Argo CD, provision, patch, replay, monitor, export, restore, unlock.",
    )
    def simulate_on_runtime(
        context: dg.OpExecutionContext,
        simulation_config: SimulationConfigResource,
        kubernetes: KubernetesResource,
        argocd: ArgoCdResource,
        run_clients: RunClientsResource,
    ) -> DayMetadata:
        """Run the day's whole lifecycle (lock → … → unlock); the metadata of both assets."""
        from torghut_sim.lifecycle import SimulationRequest  # noqa: PLC0415 - see run_simulation_day

        run = simulation_config.partition_run(context.partition_key)
        # Stable per Dagster run: a resumed step reuses its own lock instead of waiting on itself.
        owner = dagster_owner(context.run.run_id)
        lane_request = simulation_config.lane_request(run, owner)
        with claimed_lane(lane_request, kubernetes.client, context.log.info) as claim:
            request = SimulationRequest(
                manifest=claim.manifest,
                connections=run_clients.for_run(claim.manifest, run.names),
                names=run.names,
                paths=run.paths,
                # The runtime's cluster and Argo CD on it, opened by the lifecycle once its guards passed.
                cluster=argocd.cluster,
                owner=owner,
                control=simulation_config.control(),
                production_postgres_database=simulation_config.production_postgres_database,
                progress=progress_logger(context.log.info),
                # The blocking `no_contamination` check fails the run on it, with the evidence attached.
                raise_on_contamination=False,
            )
            outcome = lifecycle(request)
        record_simulated_manifest(run.paths, claim.manifest)
        return {
            "replay_marker": replay_metadata(outcome),
            "simulation_outputs": {**outcome_metadata(run, outcome), "runtime_lane": claim.lane_name},
        }

    @dg.op(
        name=RECORD_OP,
        out={key: dg.Out(dg.Nothing) for key in DAY_OUTPUTS},
        description="Materialize the replay marker and the outputs with the way the day was settled.",
    )
    def record_simulation(results: list[DayMetadata]) -> Iterator[dg.Output[None]]:
        """One result arrives (simulated, empty day or reused); both assets carry its metadata."""
        (result,) = results
        for key in DAY_OUTPUTS:
            yield dg.Output(None, key, metadata=result[key])

    @dg.graph_multi_asset(
        name="simulate_day",
        partitions_def=partitions,
        group_name=GROUP,
        ins={"source_dump": dg.AssetIn(dagster_type=dg.Nothing)},
        outs={
            "replay_marker": dg.AssetOut(
                dagster_type=dg.Nothing,
                kinds={"kafka"},
                description="Proof that the day's dump was replayed into the run's simulation topics.",
            ),
            "simulation_outputs": dg.AssetOut(
                dagster_type=dg.Nothing,
                kinds={"kubernetes", "postgres", "clickhouse", "parquet"},
                description="The day replayed through the isolated runtime; Parquet exports of what it did.",
            ),
        },
    )
    def simulate_day(source_dump: None) -> Any:
        """Gate → (simulate in the pool) → record."""
        simulate, settled = simulation_gate(source_dump)
        replay_marker, simulation_outputs = record_simulation([simulate_on_runtime(simulate), settled])
        return {"replay_marker": replay_marker, "simulation_outputs": simulation_outputs}

    @day_check("simulation_outputs", blocking=True)
    def no_contamination(run: DayRun) -> dg.AssetCheckResult:
        """Production shows nothing attributable to the run (contamination.json is clean)."""
        if is_empty_day(run.paths):
            # Nothing was provisioned, patched or replayed: there is nothing to attribute.
            return dg.AssetCheckResult(passed=True, metadata={"status": EMPTY_DAY})
        status = contamination_status(run.paths)
        findings = (read_json(run.paths.contamination) or {}).get("findings") or []
        return dg.AssetCheckResult(
            passed=status == "clean",
            metadata={
                "status": status or "missing",
                "findings": dg.MetadataValue.int(len(findings)),
                "findings_allowed": dg.MetadataValue.int(0),
                "evidence": dg.MetadataValue.path(str(run.paths.contamination)),
            },
        )

    @day_check("simulation_outputs", blocking=True)
    def runtime_restored(run: DayRun) -> dg.AssetCheckResult:
        """Every runtime and Argo CD field the run patched is back as captured, and unlocked."""
        # Blocks the report when the runtime was left patched (the failure sensor finishes the cleanup).
        restore = restore_state(run.paths)
        return dg.AssetCheckResult(
            passed=restore.restored,
            metadata={
                "reason": restore.reason,
                "restore_commands_owed": dg.MetadataValue.int(restore_commands_owed(run)),
                "restore_commands_allowed": dg.MetadataValue.int(0),
                "run_status": run_status(run.paths) or "missing",
                "restore_required": dg.MetadataValue.path(str(run.paths.restore_required)),
            },
        )

    @day_check("simulation_outputs")
    def simulated_under_current_manifest(run: DayRun) -> dg.AssetCheckResult:
        """Warn when the outcome was simulated under another manifest (connections, lane, costs aside)."""
        if is_empty_day(run.paths):
            return dg.AssetCheckResult(passed=True, metadata={"status": EMPTY_DAY})
        changes = manifest_changes(run.paths)
        return dg.AssetCheckResult(
            passed=not changes,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "manifest_changes": changes_text(changes),
                "simulated_manifest": dg.MetadataValue.path(str(run.paths.simulated_manifest)),
            },
        )

    return [simulate_day, no_contamination, runtime_restored, simulated_under_current_manifest]
