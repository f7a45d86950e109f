"""What one day's simulation is given (the request) and what it leaves behind (the outcome)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torghut_sim.kafka.progress import ProgressCallback
from torghut_sim.layout import RunPaths
from torghut_sim.manifest import DatasetManifest
from torghut_sim.monitor import MonitorResult, RuntimeProgress
from torghut_sim.naming import RunNames
from torghut_sim.replay.replayer import ReplayResult
from torghut_sim.run_clients import Connections
from torghut_sim.runtime.cluster import ClusterOpener
from torghut_sim.runtime.controller import ControlSettings
from torghut_sim.runtime.inputs import default_owner
from torghut_sim.runtime.state_machine import RunOutcome
from torghut_sim.stores.export import ExportManifest


@dataclass(frozen=True)
class SimulationRequest:
    """Everything one day's simulation needs besides the servers themselves."""

    manifest: DatasetManifest
    names: RunNames
    paths: RunPaths
    # Opens the runtime's cluster (its Kubernetes client and Argo CD on it) once the run's guards passed:
    # the Dagster step hands in its resource's, the caller of the domain its own.
    cluster: ClusterOpener
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
