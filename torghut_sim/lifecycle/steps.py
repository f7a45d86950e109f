"""A day's own phases between the controller's runtime steps (preflight … export); its contamination check."""

from __future__ import annotations

import json
import logging
from typing import Any

from torghut_sim.dump.dumper import verify_dump
from torghut_sim.dump.marker import DumpMarker
from torghut_sim.layout import RunPaths
from torghut_sim.lifecycle.request import SimulationRequest
from torghut_sim.lifecycle.values import cursor_seed, production_targets, runtime_env_before
from torghut_sim.monitor import TA_OUTPUT_ROLES, MonitorTargets, RuntimeProgress, wait_for_window
from torghut_sim.replay.pacing import PaceSettings
from torghut_sim.replay.replayer import replay_dump, reset_untrusted_targets
from torghut_sim.replay.request import ReplayRequest
from torghut_sim.replay.topics import ensure_simulation_topics
from torghut_sim.run_clients import Connections
from torghut_sim.runtime.controller import RuntimeController
from torghut_sim.runtime_metrics.discovery import knative_url_resolver
from torghut_sim.runtime_metrics.probe import RuntimeMetricsProbe
from torghut_sim.stores import contamination
from torghut_sim.stores.contamination_run import RunIdentity as ContaminationRun
from torghut_sim.stores.deltas import clickhouse_counts, postgres_counts, row_deltas
from torghut_sim.stores.export import export_run
from torghut_sim.stores.kafka_admin import delete_consumer_groups, delete_records
from torghut_sim.stores.postgres_provision import PostgresPlan, user_of
from torghut_sim.stores.production_postgres import require_exists, resolve_watched
from torghut_sim.stores.provision import provision_databases
from torghut_sim.topics import DUMPED_ROLES, TOPIC_ROLES

log = logging.getLogger(__name__)


class DaySteps:
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
