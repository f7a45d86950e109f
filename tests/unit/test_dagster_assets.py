"""The day's assets materialized in process: real manifest/plan/report domain calls, a faked Kafka dump and
a faked lifecycle (the seam), checks gating downstream steps, and empty days skipped with their reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

import torghut_sim.day_dump
from assets.dump import build_dump_assets
from assets.manifest import build_manifest_assets
from assets.partitions import trading_day_partitions
from assets.report import build_report_assets
from assets.simulation import FRESH_SIMULATION_TAG, build_simulation_assets
from resources import ArgoCdResource, DeploymentSettings, build_resources
from torghut_sim.day_template import LOCAL_TEMPLATE
from torghut_sim.dump.marker import DumpMarker, TimeRange
from torghut_sim.dump.request import DumpRequest, DumpResult
from torghut_sim.layout import RunPaths
from torghut_sim.lifecycle import SimulationOutcome, SimulationRequest
from torghut_sim.replay.marker import PaceRecord, ReplayMarker
from torghut_sim.runtime.argocd import ArgoCd
from torghut_sim.runtime.cluster import RuntimeCluster
from torghut_sim.runtime.state_machine import RunOutcome
from unit.dump_builders import trades_marker
from unit.report_builders import RunBuilder, at
from unit.run_clients_fake import FakeEnvRunClients

DAY = "2026-03-06"
PARTITIONS = trading_day_partitions(DeploymentSettings().partitions_start)


def _resources(tmp_path: Path, template: Path = LOCAL_TEMPLATE) -> dict[str, Any]:
    settings = DeploymentSettings(
        template_path=str(template),
        output_root=str(tmp_path / "out"),
        kubeconfig=str(tmp_path / "kubeconfig"),
    )
    # The simulation step resolves its clients through this resource; a unit test needs no real secrets.
    return {**build_resources(settings), "run_clients": FakeEnvRunClients()}


def _run_dir(tmp_path: Path) -> RunPaths:
    return RunPaths(tmp_path / "out" / "sim_20260306_01")


# Written out rather than taken from the definitions, so a dropped asset fails these tests.
EVERY_DAY_ASSET = {
    "simulation_manifest",
    "source_dump",
    "replay_marker",
    "simulation_outputs",
    "simulation_report",
}


def _fake_dump(ratio: float, records: int) -> Callable[..., DumpResult]:
    def dump(_connection: Any, request: DumpRequest, **_kwargs: Any) -> DumpResult:
        marker = trades_marker(
            request.dump_path.name,
            records,
            window=TimeRange(start=request.window_start, end=request.window_end),
            session=TimeRange(
                start=request.session_start or request.window_start,
                end=request.session_end or request.window_end,
            ),
            ratio=ratio,
            span_minutes=0.0,
        )
        request.dump_path.write_bytes(b"")
        marker.write(request.marker_path)
        return DumpResult(marker, request.dump_path, request.marker_path, reused=False)

    return dump


class FakeLifecycle:
    """Stands in for `run_simulation_day`: leaves the evidence a finished run leaves, records each call."""

    def __init__(
        self, restored: bool = True, contamination: str = "clean", trades: bool = True, finished: bool = False
    ) -> None:
        self.calls: list[SimulationRequest] = []
        self.finished = finished
        self.trades = trades
        self.restored = restored
        self.contamination = contamination

    def __call__(self, request: SimulationRequest) -> SimulationOutcome:
        self.calls.append(request)
        manifest = yaml.safe_load(request.paths.manifest.read_text())
        builder = RunBuilder(request.paths.root)
        fills = [("buy", "10"), ("sell", "13")] if self.trades else []
        for i, (side, price) in enumerate(fills):
            d = builder.decision("NVDA", signal_ts=at(60 * i))
            e = builder.execution(d, side, "1", price, fill_ts=at(60 * i + 2))
            builder.order_event(e, d, at(60 * i + 1))
            builder.tca(e, d)
        builder.last_price("NVDA", "12")
        builder.write(coverage=None)  # keep the dump marker the (fake) dump wrote
        request.paths.manifest.write_text(yaml.safe_dump(manifest))  # the builder wrote its own
        request.paths.contamination.write_text(json.dumps({"status": self.contamination}))
        restored = request.paths.root / ("state.restored.json" if self.restored else "state.json")
        restored.write_text("{}")
        if self.finished:
            self._finish(request.paths)
        return SimulationOutcome(
            run=RunOutcome("succeeded", None, ()), contamination_status=self.contamination
        )

    @staticmethod
    def _finish(paths: RunPaths) -> None:
        """The evidence of a run that succeeded end to end: run state, replay marker of the dump, exports."""
        state = json.loads(paths.run_state.read_text())
        paths.run_state.write_text(json.dumps({**state, "status": "succeeded"}))
        paths.export_manifest.write_text(json.dumps({"files": {}}))
        dump = DumpMarker.read(paths.dump_marker)
        ReplayMarker(
            dump_file=dump.dump_file,
            dump_sha256=dump.payload_sha256,
            run_token=paths.root.name,
            records=dump.records,
            records_by_topic=dump.records_by_topic,
            topic_map={},
            pace=PaceRecord(mode="max_throughput", acceleration=1, max_sleep_seconds=0),
            duration_seconds=1.0,
            started_at=datetime(2026, 3, 7, tzinfo=UTC),
            completed_at=datetime(2026, 3, 7, tzinfo=UTC),
        ).write(paths.replay_marker)


def _materialize(
    tmp_path: Path,
    lifecycle: FakeLifecycle,
    template: Path = LOCAL_TEMPLATE,
    tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
) -> Any:
    defs = [
        *build_manifest_assets(PARTITIONS),
        *build_dump_assets(PARTITIONS),
        *build_simulation_assets(PARTITIONS, "torghut_runtime_test", lifecycle),
        *build_report_assets(PARTITIONS),
    ]
    return dg.materialize(
        defs,
        partition_key=DAY,
        resources=resources or _resources(tmp_path, template),
        raise_on_error=False,
        tags=tags,
        run_config=run_config,
    )


def _checks(result: Any) -> dict[str, Any]:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def _materialized(result: Any) -> set[str]:
    return {
        e.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }


def _metadata(result: Any, asset: str) -> dict[str, Any]:
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")


def test_a_full_day_materializes_every_asset_and_passes_the_gates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    lifecycle = FakeLifecycle()
    result = _materialize(tmp_path, lifecycle)
    assert result.success
    assert _materialized(result) == EVERY_DAY_ASSET
    assert _metadata(result, "replay_marker") == {"status": "not_replayed"}
    checks = _checks(result)
    assert {n for n, c in checks.items() if c.passed} >= {
        "full_day_window",
        "isolation_guards",
        "session_coverage",
        "exact_window",
        "no_contamination",
        "runtime_restored",
        "report_schema",
    }
    manifest = _metadata(result, "simulation_manifest")
    assert (manifest["window_start"], manifest["window_end"]) == (
        "2026-03-06T14:30:00Z",
        "2026-03-06T21:00:00Z",
    )
    assert manifest["run_id"] == "sim-20260306-01"
    assert all(not isinstance(v, str) or "secret" not in v.lower() for v in manifest.values())
    report = _metadata(result, "simulation_report")
    assert (report["verdict"], report["net_pnl"], report["fills"]) == ("PASS", 3.0, 2)
    assert checks["verdict"].passed
    assert "**PASS**" in report["summary"]
    (request,) = lifecycle.calls
    assert request.owner.startswith("dagster:")
    assert request.paths == _run_dir(tmp_path)


# Each check's measured figure and the threshold it is judged against, both numeric so the UI plots them.
CHECK_FIGURES = {
    "full_day_window": ("guards_refused", "guards_refused_allowed"),
    "isolation_guards": ("guards_refused", "guards_refused_allowed"),
    "session_coverage": ("coverage_ratio", "strict_coverage_ratio"),
    "exact_window": ("mismatches", "mismatches_allowed"),
    "no_contamination": ("findings", "findings_allowed"),
    "runtime_restored": ("restore_commands_owed", "restore_commands_allowed"),
    "verdict": ("decisions", "min_trade_decisions"),
}


def test_every_check_reports_its_figure_beside_its_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    result = _materialize(tmp_path, FakeLifecycle())
    assert result.success
    checks = _checks(result)
    for name, keys in CHECK_FIGURES.items():
        metadata = checks[name].metadata
        kinds = {k: type(metadata.get(k)).__name__ for k in keys}
        assert all(isinstance(metadata.get(k), dg.IntMetadataValue | dg.FloatMetadataValue) for k in keys), (
            name,
            kinds,
        )
    coverage = checks["session_coverage"].metadata
    assert coverage["coverage_ratio"].value >= coverage["strict_coverage_ratio"].value
    assert checks["no_contamination"].metadata["findings"].value == 0


def test_a_refused_guard_blocks_the_day_before_the_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dumps: list[Any] = []
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", lambda *a, **k: dumps.append(a))
    template = yaml.safe_load(LOCAL_TEMPLATE.read_text())
    template["runtime"]["torghut_service"] = "torghut"  # the production runtime
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    lifecycle = FakeLifecycle()
    result = _materialize(tmp_path, lifecycle, template=path)
    assert not result.success
    checks = _checks(result)
    assert not checks["isolation_guards"].passed
    assert checks["full_day_window"].passed
    assert _materialized(result) == {"simulation_manifest"}
    assert dumps == [] and lifecycle.calls == []


def test_thin_coverage_blocks_the_simulation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(0.5, 10))
    lifecycle = FakeLifecycle()
    result = _materialize(tmp_path, lifecycle)
    assert not result.success
    assert not _checks(result)["session_coverage"].passed
    assert lifecycle.calls == []


def test_an_empty_day_is_materialized_as_empty_day_without_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(0.0, 0))
    lifecycle = FakeLifecycle()
    result = _materialize(tmp_path, lifecycle)
    assert result.success
    assert lifecycle.calls == []
    assert _materialized(result) == EVERY_DAY_ASSET
    assert _metadata(result, "source_dump")["status"] == "empty_day"
    for key in ("replay_marker", "simulation_outputs", "simulation_report"):
        assert _metadata(result, key)["status"] == "empty_day", key
    assert "no source records" in _metadata(result, "simulation_outputs")["reason"]
    # The pooled step never ran: an empty day neither waits for nor holds a runtime slot.
    steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert not any("simulate_on_runtime" in (s or "") for s in steps), steps
    checks = _checks(result)
    coverage = checks["session_coverage"]
    assert not coverage.passed and coverage.severity == dg.AssetCheckSeverity.WARN
    assert checks["no_contamination"].passed and checks["runtime_restored"].passed
    assert checks["report_schema"].passed
    report = json.loads((_run_dir(tmp_path).report_dir / "simulation-report.json").read_text())
    assert report["schema_version"] == "torghut.simulation-report.v1"
    assert report["verdict"]["status"] == "WARN"
    assert [r["code"] for r in report["verdict"]["reasons"]] == ["empty_day"]
    assert not _run_dir(tmp_path).run_state.exists()


def test_a_finished_day_is_reused_unless_a_fresh_simulation_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    lifecycle = FakeLifecycle(finished=True)
    assert _materialize(tmp_path, lifecycle).success
    assert len(lifecycle.calls) == 1
    again = _materialize(tmp_path, lifecycle)
    assert again.success and len(lifecycle.calls) == 1
    assert _metadata(again, "simulation_outputs")["status"] == "reused"
    assert _metadata(again, "simulation_report")["status"] == "simulated"
    fresh = _materialize(tmp_path, lifecycle, tags={FRESH_SIMULATION_TAG: "true"})
    assert fresh.success and len(lifecycle.calls) == 2
    assert _metadata(fresh, "simulation_outputs")["status"] == "simulated"
    config = {"ops": {"simulate_day": {"ops": {"simulation_gate": {"config": {"fresh_simulation": True}}}}}}
    by_config = _materialize(tmp_path, lifecycle, run_config=config)
    assert by_config.success and len(lifecycle.calls) == 3


def test_a_reused_outcome_warns_when_the_manifest_changed_since_it_was_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    lifecycle = FakeLifecycle(finished=True)
    first = _materialize(tmp_path, lifecycle)
    assert first.success and _checks(first)["simulated_under_current_manifest"].passed
    assert _run_dir(tmp_path).simulated_manifest.is_file()
    template = yaml.safe_load(LOCAL_TEMPLATE.read_text())
    template["torghut_env_overrides"]["TRADING_FEATURE_MAX_STALENESS_MS"] = "60000"
    template["reporting"]["commission_bps"] = "1.5"  # applied by the report: not a reason to warn
    changed = tmp_path / "template.yaml"
    changed.write_text(yaml.safe_dump(template))
    again = _materialize(tmp_path, lifecycle, template=changed)
    assert again.success and len(lifecycle.calls) == 1
    outputs = _metadata(again, "simulation_outputs")
    assert outputs["status"] == "reused"
    assert outputs["manifest_changes"] == "torghut_env_overrides"
    assert "torghut_env_overrides changed since" in outputs["reason"]
    check = _checks(again)["simulated_under_current_manifest"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    # Simulated afresh under the changed manifest, the outcome is current again.
    fresh = _materialize(tmp_path, lifecycle, template=changed, tags={FRESH_SIMULATION_TAG: "true"})
    assert fresh.success and len(lifecycle.calls) == 2
    assert _checks(fresh)["simulated_under_current_manifest"].passed


def test_a_runtime_left_patched_fails_its_check_and_blocks_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    result = _materialize(tmp_path, FakeLifecycle(restored=False))
    assert not result.success
    checks = _checks(result)
    assert not checks["runtime_restored"].passed
    assert "simulation_report" not in _materialized(result)


def test_contamination_fails_its_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    result = _materialize(tmp_path, FakeLifecycle(contamination="contaminated"))
    assert not _checks(result)["no_contamination"].passed
    assert "simulation_report" not in _materialized(result)


def test_a_failing_verdict_fails_its_check_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    result = _materialize(tmp_path, FakeLifecycle(trades=False))
    assert result.success
    verdict = _checks(result)["verdict"]
    assert not verdict.passed and verdict.severity == dg.AssetCheckSeverity.ERROR
    assert _checks(result)["report_schema"].passed
    assert _metadata(result, "simulation_report")["verdict"] == "FAIL"


def test_connection_overrides_replace_only_the_keys_they_set(tmp_path: Path) -> None:
    resources = _resources(tmp_path)
    kafka = resources["kafka"].model_copy(update={"bootstrap_servers": "kafka.example:9092"})
    template = resources["simulation_config"].template({"kafka": kafka.manifest_overrides(), "postgres": {}})
    local = yaml.safe_load(LOCAL_TEMPLATE.read_text())
    assert template["kafka"] == {**local["kafka"], "bootstrap_servers": "kafka.example:9092"}
    assert template["postgres"] == local["postgres"]


def test_progress_is_logged_at_most_once_per_interval_and_at_the_end() -> None:
    from assets.progress import progress_logger
    from torghut_sim.kafka.progress import Progress

    lines: list[str] = []
    now = [0.0]
    report = progress_logger(lines.append, interval_seconds=30, clock=lambda: now[0])
    for second, done in [(0, False), (10, False), (31, False), (35, True)]:
        now[0] = second
        report(Progress("dump", second * 100, 4000, 100.0, None, float(second), done=done))
    assert lines == [
        "dump: 0/4000 records, 100/s",
        "dump: 3100/4000 records, 100/s",
        "dump: 3500/4000 records, 100/s",
    ]


class StubKube:
    """A Kubernetes client that reaches no server: only which kubeconfig it was opened for, and closing."""

    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.closed = False

    def close(self) -> None:
        self.closed = True


class StubArgoCdResource(ArgoCdResource):
    """The `argocd` resource handing out a cluster on the stub client (the nested Kubernetes config kept)."""

    def cluster(self) -> RuntimeCluster:
        return RuntimeCluster(StubKube(self.kubernetes.kubeconfig))  # type: ignore[arg-type]


class ClusterOpeningLifecycle(FakeLifecycle):
    """The fake lifecycle, opening and closing the cluster its request hands it as the real one does."""

    def __init__(self) -> None:
        super().__init__()
        self.clusters: list[RuntimeCluster] = []

    def __call__(self, request: SimulationRequest) -> SimulationOutcome:
        with request.cluster() as cluster:
            self.clusters.append(cluster)
        return super().__call__(request)


def test_the_simulation_gets_its_cluster_and_argo_cd_from_the_argocd_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swapping `argocd` in `materialize(resources=...)` swaps the clients the lifecycle runs the day on."""
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    lifecycle = ClusterOpeningLifecycle()
    resources = _resources(tmp_path)
    # Nested on the code location's own `kubernetes` resource, as `build_resources` nests the real one.
    resources["argocd"] = StubArgoCdResource(kubernetes=resources["kubernetes"])
    result = _materialize(tmp_path, lifecycle, resources=resources)
    assert result.success
    (cluster,) = lifecycle.clusters
    assert isinstance(cluster.kube, StubKube) and cluster.kube.closed
    assert cluster.kube.kubeconfig == str(tmp_path / "kubeconfig")
    assert isinstance(cluster.argocd, ArgoCd) and cluster.argocd.kube is cluster.kube
