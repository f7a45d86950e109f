"""One trading day's simulation on the runtime, start to finish, under the run state machine.

preflight (verify the dump, snapshot production) → lock → Argo CD freeze → provision (ClickHouse, Postgres,
topics) → apply (TA + Knative) → ready → replay → monitor → export → teardown → Argo restore → unlock,
then the production side is compared with its snapshot. Cleanup always runs once the lock was taken;
`run-state.json` records every transition so a crashed run can be finished from its files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torghut_sim.dump.dumper import verify_dump
from torghut_sim.dump.marker import DumpMarker
from torghut_sim.guards import guard_mutation, runtime_mutation
from torghut_sim.kafka.progress import ProgressCallback
from torghut_sim.layout import RunPaths
from torghut_sim.manifest import DatasetManifest
from torghut_sim.monitor import (
    TA_OUTPUT_ROLES,
    MonitorResult,
    MonitorTargets,
    RuntimeProgress,
    wait_for_window,
)
from torghut_sim.naming import RunNames
from torghut_sim.replay.pacing import PaceSettings
from torghut_sim.replay.replayer import ReplayResult, replay_dump, reset_untrusted_targets
from torghut_sim.replay.request import ReplayRequest
from torghut_sim.replay.topics import ensure_simulation_topics
from torghut_sim.run_clients import Connections
from torghut_sim.run_plan import runtime_env
from torghut_sim.runtime.controller import ControlSettings, RuntimeController
from torghut_sim.runtime.inputs import RunIdentity, RuntimeTargets, SimulationValues, default_owner
from torghut_sim.runtime.knative import effective_env
from torghut_sim.runtime.kube_client import KNATIVE_SERVICE, Kube, ObjectRef
from torghut_sim.runtime.state_machine import RunOutcome, RunStateLog, controller_phases, run_phases
from torghut_sim.runtime.ta import ta_config_values
from torghut_sim.runtime_metrics.discovery import knative_url_resolver
from torghut_sim.runtime_metrics.probe import RuntimeMetricsProbe
from torghut_sim.stores import contamination
from torghut_sim.stores.contamination_run import RunIdentity as ContaminationRun
from torghut_sim.stores.deltas import clickhouse_counts, postgres_counts, row_deltas
from torghut_sim.stores.errors import ContaminationDetectedError
from torghut_sim.stores.export import ExportManifest, export_run
from torghut_sim.stores.kafka_admin import delete_consumer_groups, delete_records
from torghut_sim.stores.postgres_provision import (
    DEFAULT_ACCOUNT_LABEL,
    CursorSeed,
    PostgresPlan,
    user_of,
)
from torghut_sim.stores.production_postgres import require_exists, resolve_watched
from torghut_sim.stores.provision import provision_databases
from torghut_sim.topics import DUMPED_ROLES, TOPIC_ROLES

log = logging.getLogger(__name__)

# The production database names the contamination check watches.
PRODUCTION_CLICKHOUSE_DATABASE = "torghut"


@dataclass(frozen=True)
class SimulationRequest:
    """Everything one day's simulation needs besides the servers themselves."""

    manifest: DatasetManifest
    names: RunNames
    paths: RunPaths
    kubeconfig: Path
    # Every client of the run, resolved (secrets included) by whoever starts the simulation.
    connections: Connections
    # Who holds the lock: a stable id (e.g. the Dagster run id) lets a retry of the same run reuse it.
    owner: str = field(default_factory=default_owner)
    force_replay: bool = False
    control: ControlSettings = field(default_factory=ControlSettings)
    # The runtime's production Postgres database, watched for rows of this run; None derives it (see
    # `stores.production_postgres`): every run watches production ClickHouse, Kafka and Postgres.
    production_postgres_database: str | None = None
    progress: ProgressCallback | None = None
    # False: a contaminated production side is returned as the outcome's status (for a blocking check to
    # fail on) instead of raised; the runtime is restored either way.
    raise_on_contamination: bool = True


@dataclass
class SimulationOutcome:
    """What a finished simulation leaves behind, for the report and the Dagster metadata."""

    run: RunOutcome
    replay: ReplayResult | None = None
    monitor: RuntimeProgress | None = None
    monitor_result: MonitorResult | None = None
    export: ExportManifest | None = None
    deltas: list[dict[str, Any]] = field(default_factory=list)
    contamination_status: str = "not_checked"

    def summary(self) -> dict[str, Any]:
        """Figures a person checks first: status, replayed records, activity, contamination."""
        return {
            "status": self.run.status,
            "records_replayed": self.replay.marker.records if self.replay else None,
            "replay_skipped": self.replay.skipped if self.replay else None,
            "activity": self.monitor.counts if self.monitor else None,
            "cursor_at": (
                self.monitor.cursor_at.isoformat() if self.monitor and self.monitor.cursor_at else None
            ),
            "inputs_complete": self.monitor_result.complete if self.monitor_result else None,
            "exported_rows": {f.table: f.rows for f in self.export.files} if self.export else None,
            "contamination": self.contamination_status,
        }


def runtime_targets(manifest: DatasetManifest) -> RuntimeTargets:
    """The cluster objects of the manifest's runtime and its Argo CD handling."""
    rt, argo = manifest.runtime, manifest.argocd
    return RuntimeTargets(
        namespace=rt.namespace,
        ta_configmap=rt.ta_configmap,
        ta_deployment=rt.ta_deployment,
        torghut_service=rt.torghut_service,
        manage_argocd=argo.manage_automation,
        applicationset_name=argo.applicationset_name,
        applicationset_namespace=argo.applicationset_namespace,
        app_name=argo.app_name,
        desired_mode_during_run=argo.desired_mode_during_run,
        restore_mode_after_run=argo.restore_mode_after_run,
        argocd_verify_timeout_seconds=argo.verify_timeout_seconds,
    )


def simulation_values(manifest: DatasetManifest, names: RunNames, conns: Connections) -> SimulationValues:
    """The TA ConfigMap keys and runtime env the run sets (validated paper-only)."""
    return SimulationValues(
        ta_config=ta_config_values(
            names.run_token,
            manifest.clickhouse.http_url,
            conns.clickhouse_database,
            manifest.replay.auto_offset_reset,
        ),
        torghut_env=runtime_env(manifest, names, conns.postgres_runtime_dsn.reveal()),
    )


def cursor_seed(env_list: Sequence[Mapping[str, Any]]) -> CursorSeed:
    """The cursor row the runtime reads: keyed by the account label its run env trades under."""
    label = effective_env(env_list).get("TRADING_ACCOUNT_LABEL")
    # A label from `valueFrom` cannot be read here; the runtime's default is the best guess left.
    return CursorSeed(account_label=label or DEFAULT_ACCOUNT_LABEL)


def runtime_env_before(controller: RuntimeController) -> list[dict[str, Any]]:
    """The runtime container's env as it is now, before this run patches it (empty when unreadable)."""
    targets = controller.targets
    obj = controller.kube.get(ObjectRef(KNATIVE_SERVICE, targets.namespace, targets.torghut_service)) or {}
    containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [{}]
    env = containers[0].get("env") or []
    return [dict(entry) for entry in env if isinstance(entry, dict)]


def production_targets(conns: Connections, postgres_database: str | None) -> contamination.ProductionTargets:
    """The production side the contamination check snapshots before and after the run."""
    return contamination.ProductionTargets(
        clickhouse=conns.clickhouse,
        clickhouse_database=PRODUCTION_CLICKHOUSE_DATABASE,
        postgres_dsn=conns.production_postgres_dsn(postgres_database).reveal() if postgres_database else None,
        kafka_config=conns.source_kafka.client_config(),
    )


class _Day:
    """The pipeline's own phases of one run, sharing the resolved connections and results."""

    def __init__(self, request: SimulationRequest, conns: Connections, controller: RuntimeController) -> None:
        self.request = request
        self.conns = conns
        self.controller = controller
        self.marker: DumpMarker | None = None
        self.outcome_parts: dict[str, Any] = {}
        self.before_counts: dict[str, dict[str, int | None]] = {}
        # Whether this attempt took the production snapshot (a refused one never does).
        self.snapshotted = False
        window = request.manifest.window
        self.identity = ContaminationRun(
            request.names.run_id, request.names.run_token, window.start, window.end
        )
        # Postgres joins in preflight, once the watched database is resolved and known to exist.
        self.production = production_targets(conns, None)
        rt = request.manifest.runtime
        self.metrics = RuntimeMetricsProbe(
            request.paths,
            knative_url_resolver(controller.kube, rt.namespace, rt.torghut_service, rt.metrics_url),
        )

    @property
    def paths(self) -> RunPaths:
        return self.request.paths

    def preflight(self) -> dict[str, Any]:
        """Verify the dump against its marker (read only: the lock is not taken yet)."""
        self.marker = verify_dump(self.paths.dump, self.paths.dump_marker)
        watched = resolve_watched(
            self.request.production_postgres_database, runtime_env_before(self.controller)
        )
        require_exists(self.conns.postgres_admin_dsn.reveal(), watched)
        self.production = production_targets(self.conns, watched.name)
        return {
            "dump_records": self.marker.records,
            "payload_sha256": self.marker.payload_sha256,
            "connections": self.conns.describe(),
            "production_postgres": watched.as_dict(),
        }

    def provision(self) -> dict[str, Any]:
        """Simulation databases (truncated) and every run topic, before the runtime is pointed at them."""
        manifest, names = self.request.manifest, self.request.names
        # The production snapshot is evidence of this run: taken under the lock, before the run writes
        # anything, so a refused attempt never replaces an earlier run's contamination.json.
        before = contamination.snapshot_production(self.production, self.identity)
        contamination.record_before(self.paths.contamination, self.identity, before)
        self.snapshotted = True
        # The env list is known here: it was captured with the rest of the runtime before Argo CD froze.
        seed = cursor_seed(self.controller.desired_env())
        runtime_role = user_of(self.conns.postgres_runtime_dsn.reveal())
        owner_role = user_of(self.conns.postgres_simulation_dsn.reveal())
        ch, pg = provision_databases(
            [self.conns.clickhouse],
            self.conns.clickhouse_database,
            PostgresPlan(
                admin_dsn=self.conns.postgres_admin_dsn.reveal(),
                simulation_dsn=self.conns.postgres_simulation_dsn.reveal(),
                migrations_command=manifest.postgres.migrations_command or "",
                window_start=manifest.window.start,
                # The runtime's role needs grants only when it is not the owner of the database.
                runtime_role=runtime_role if runtime_role != owner_role else None,
                cursor_seeds=(seed,),
            ),
        )
        # Every run topic exists before TA and the runtime subscribe; sources give the partition counts.
        targets = {role.source: names.topic(role.role) for role in TOPIC_ROLES}
        partitions = ensure_simulation_topics(
            self.conns.runtime_kafka,
            targets,
            default_partitions=manifest.kafka.default_partitions,
            replication_factor=manifest.kafka.replication_factor,
        )
        kafka_reset = self._reset_run_consumers()
        # TA subscribes before the replay runs: it must never see what an untrusted replay left behind.
        kafka_reset["replay_targets"] = reset_untrusted_targets(
            self.conns.runtime_kafka, self._replay_request(), force=self.request.force_replay
        )
        self.before_counts = self._counts()
        return {
            "clickhouse_database": ch.database,
            "postgres_database": pg.database,
            "cursor": {"source": seed.source, "account_label": seed.account_label},
            "topics": partitions,
            "kafka_reset": kafka_reset,
        }

    def _reset_run_consumers(self) -> dict[str, Any]:
        """Empty the runtime's own topics and drop the run's consumer groups, as before a first run.

        A rerun of the day keeps its replayed topics (the replay marker says they are complete) but
        has just truncated the databases; the TA job must read those topics from the start again, not
        from the offsets its group committed last time, and the runtime's output topics must not carry
        the earlier run's records.
        """
        names = self.request.names
        config = self.conns.runtime_kafka.client_config()
        produced = [names.topic(role.role) for role in TOPIC_ROLES if not role.dumped]
        return {
            "records_deleted": delete_records(config, produced),
            "groups_deleted": delete_consumer_groups(
                config, [names.ta_group_id, names.order_feed_group_id], missing_ok=True
            ),
        }

    def _counts(self) -> dict[str, dict[str, int | None]]:
        return {
            "postgres": dict(postgres_counts(self.conns.postgres_simulation_dsn.reveal())),
            "clickhouse": dict(clickhouse_counts(self.conns.clickhouse, self.conns.clickhouse_database)),
        }

    def _replay_request(self) -> ReplayRequest:
        """The replay of this run's dump into its simulation topics, as provision and replay both see it."""
        manifest, names = self.request.manifest, self.request.names
        spec = manifest.replay
        return ReplayRequest(
            dump_path=self.paths.dump,
            run_token=names.run_token,
            marker_path=self.paths.replay_marker,
            source_topics={r.role: r.source for r in DUMPED_ROLES},
            pace=PaceSettings(spec.pace_mode, spec.acceleration, spec.max_sleep_seconds),
            default_partitions=manifest.kafka.default_partitions,
            replication_factor=manifest.kafka.replication_factor,
            expected_records=self.marker.records if self.marker else None,
        )

    def replay(self) -> dict[str, Any]:
        """Produce the dump to the run's simulation topics (nothing when its marker says it was done)."""
        metrics_before = self.metrics.scrape_before()
        result = replay_dump(
            self.conns.runtime_kafka,
            self._replay_request(),
            force=self.request.force_replay,
            progress=self.request.progress,
        )
        self.outcome_parts["replay"] = result
        return {
            "records": result.marker.records,
            "produced": result.produced,
            "skipped": result.skipped,
            "distrusted_marker": result.distrusted_marker,
            "runtime_metrics_before": metrics_before,
        }

    def monitor(self) -> dict[str, Any]:
        """Wait until every stage consumed the window (stopping on drift); record what each reached."""
        manifest, names = self.request.manifest, self.request.names

        def check_drift(progress: RuntimeProgress) -> None:
            log.info("runtime progress: %s", progress.as_dict())
            self.controller.raise_on_drift()

        targets = MonitorTargets(
            simulation_dsn=self.conns.postgres_simulation_dsn.reveal(),
            kafka_config=self.conns.runtime_kafka.client_config(),
            clickhouse=self.conns.clickhouse,
            clickhouse_database=self.conns.clickhouse_database,
            ta_group=names.ta_group_id,
            replayed_topics={r.role: names.topic(r.role) for r in DUMPED_ROLES},
            ta_output_topics={role: names.topic(role) for role in TA_OUTPUT_ROLES},
            order_feed_group=names.order_feed_group_id,
            order_feed_topic=names.topic("order_updates"),
        )
        result = wait_for_window(targets, manifest.window.end, manifest.monitor, check_drift)
        result.write(self.paths.monitor)
        if not result.complete:
            log.warning("monitor ended with the run's inputs cut short: %s", ", ".join(result.problems))
        self.outcome_parts["monitor"] = result.progress
        self.outcome_parts["monitor_result"] = result
        return {**result.as_dict(), "runtime_metrics": self.metrics.scrape_after()}

    def export(self) -> dict[str, Any]:
        """Parquet evidence of the run's rows and the row-count deltas of every simulation table."""
        manifest = export_run(
            self.paths,
            self.conns.postgres_simulation_dsn.reveal(),
            self.request.names.run_id,
            self.conns.clickhouse,
            self.conns.clickhouse_database,
        )
        after = self._counts()
        deltas = [
            {"store": d.store, "table": d.table, "before": d.before, "after": d.after, "delta": d.delta}
            for store in ("postgres", "clickhouse")
            for d in row_deltas(store, self.before_counts.get(store, {}), after[store])
        ]
        (self.paths.outputs_dir / "row-deltas.json").write_text(json.dumps(deltas, indent=2) + "\n")
        self.outcome_parts["export"] = manifest
        self.outcome_parts["deltas"] = deltas
        return {"files": len(manifest.files), "deltas": deltas}

    def check_contamination(self) -> str:
        """Compare the production side with its pre-run snapshot; raises on anything the run wrote."""
        if not self.snapshotted or not self.paths.contamination.exists():
            # No snapshot of this attempt: contamination.json (if any) is an earlier run's evidence.
            return "not_checked"
        before = contamination.read_before(self.paths.contamination)
        after = contamination.snapshot_production(self.production, self.identity, previous=before)
        contamination.check_contamination(self.paths.contamination, self.identity, before, after)
        return "clean"


def run_simulation_day(request: SimulationRequest) -> SimulationOutcome:
    """Run one day's simulation on the runtime; every mutation is restored before this returns or raises."""
    manifest, names = request.manifest, request.names
    conns = request.connections
    values = simulation_values(manifest, names, conns)
    guard_mutation(
        runtime_mutation(
            "simulation",
            names.run_id,
            names.run_token,
            manifest.runtime.torghut_service,
            values.ta_config,
            values.torghut_env,
            conns.clickhouse_database,
            conns.postgres_database,
            manifest.window,
        )
    )
    kube = Kube.from_kubeconfig(request.kubeconfig)
    controller: RuntimeController | None = None
    try:
        controller = RuntimeController(
            kube,
            request.paths,
            runtime_targets(manifest),
            RunIdentity(names.run_id, names.run_token, manifest.dataset_id, request.owner),
            values,
            request.control,
        )
        day = _Day(request, conns, controller)
        phases = controller_phases(
            controller,
            preflight=day.preflight,
            provision=day.provision,
            replay=day.replay,
            monitor=day.monitor,
            export=day.export,
        )
        try:
            run = run_phases(phases, RunStateLog(request.paths.run_state, names.run_id))
        except BaseException:
            # The failure is what the caller must see; the check still leaves its evidence on disk.
            try:
                day.check_contamination()
            except Exception:
                log.exception("contamination check after a failed run")
            raise
        try:
            status = day.check_contamination()
        except ContaminationDetectedError as exc:
            if request.raise_on_contamination:
                raise
            log.warning("production contamination: %s", exc)
            status = "contaminated"
    finally:
        if controller is not None:
            # A lock left held (restore failed) goes silent now, so the stale-lock sensor takes it over.
            controller.stop_heartbeat()
        kube.close()
    parts = day.outcome_parts
    return SimulationOutcome(
        run=run,
        replay=parts.get("replay"),
        monitor=parts.get("monitor"),
        monitor_result=parts.get("monitor_result"),
        export=parts.get("export"),
        deltas=parts.get("deltas", []),
        contamination_status=status,
    )
