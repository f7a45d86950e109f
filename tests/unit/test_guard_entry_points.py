"""Every entry point that changes anything passes the same guards first, on the values it will use.

Each test gives one entry point a production target and shows it refused with a reason code before any
client is built or any file is written (a client factory that fails the test stands in for the servers).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

import torghut_sim.commands.cleanup
import torghut_sim.commands.dump
import torghut_sim.commands.replay
import torghut_sim.stores.cleanup
from assets.partitions import trading_day_partitions
from assets.simulation import build_simulation_assets
from resources import DeploymentSettings, build_resources
from resources.kubernetes import cluster_resources
from sensors.cleanup import CLEANUP_OP, build_cleanup_job
from torghut_sim import cli
from torghut_sim.calendar import session_window
from torghut_sim.day_template import LOCAL_TEMPLATE, load_template, render_day_manifest
from torghut_sim.dump.marker import TimeRange
from torghut_sim.guards import GuardsRefusedError, Mutation, guard_mutation, runtime_mutation
from torghut_sim.layout import RunPaths, run_paths
from torghut_sim.lifecycle import SimulationRequest, run_simulation_day
from torghut_sim.manifest import DatasetManifest, dump_manifest
from torghut_sim.naming import names_for_day
from torghut_sim.run_clients import resolve_connections
from torghut_sim.runtime.cluster import RuntimeCluster
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.model import ObjectCapture, RuntimeState, write_state
from torghut_sim.stores.cleanup import KIND_CLICKHOUSE, KIND_TOPIC, CleanupItem, CleanupPlan
from unit.dump_builders import trades_marker

DAY = date(2026, 3, 6)
NAMES = names_for_day(DAY)
SIM_DSN = f"postgresql://torghut_app:pw@127.0.0.1:5432/{NAMES.simulation_database}"
PROD_DSN = "postgresql://torghut_app:pw@127.0.0.1:5432/torghut"


def _no_client(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("a client was built: the guards did not refuse first")


@pytest.fixture(autouse=True)
def no_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any cluster, Kafka or store client an entry point builds fails the test."""
    # Every entry point opens the cluster through this one constructor (the CLI, the lifecycle, resources).
    monkeypatch.setattr(Kube, "from_kubeconfig", _no_client)
    monkeypatch.setattr(torghut_sim.commands.replay, "replay_dump", _no_client)
    monkeypatch.setattr(torghut_sim.commands.dump, "dump_source", _no_client)
    monkeypatch.setattr(torghut_sim.stores.cleanup, "execute_cleanup", _no_client)


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI; it must exit 1 with exactly one `[reason]` line on stderr. Returns the reason."""
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == cli.EXIT_REFUSED, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0].split("[", 1)[1].split("]", 1)[0]


def _apply_argv(run_dir: Path, **overrides: str) -> list[str]:
    values = {
        "--run-dir": str(run_dir),
        "--kubeconfig": str(run_dir.parent / "kubeconfig"),
        "--run-id": NAMES.run_id,
        "--run-token": NAMES.run_token,
        "--dataset-id": NAMES.dataset_id,
        "--window-start": "2026-03-06T14:30:00Z",
        "--window-end": "2026-03-06T21:00:00Z",
        "--simulation-database": NAMES.simulation_database,
        "--clickhouse-url": "http://127.0.0.1:8123",
        **overrides,
    }
    return ["apply", *[x for pair in values.items() for x in pair]]


@pytest.mark.parametrize(
    ("overrides", "dsn", "reason", "named"),
    [
        # The probe of the issue: a production database for both stores.
        ({"--simulation-database": "torghut"}, PROD_DSN, "production_database", "torghut"),
        ({}, PROD_DSN, "production_database", "DB_DSN"),
        ({"--simulation-database": "torghut"}, SIM_DSN, "production_database", "torghut"),
        ({"--torghut-service": "torghut"}, SIM_DSN, "production_runtime_service", "torghut"),
        ({"--run-token": "Sim-Bad"}, SIM_DSN, "invalid_run_token", "Sim-Bad"),
        ({"--run-token": "sim_20260307_01"}, SIM_DSN, "run_token_mismatch", "sim_20260307_01"),
        ({"--window-end": "2026-03-06T14:00:00Z"}, SIM_DSN, "invalid_window", "14:00"),
    ],
)
def test_apply_is_refused_before_anything_is_written(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    overrides: dict[str, str],
    dsn: str,
    reason: str,
    named: str,
) -> None:
    monkeypatch.setenv("TORGHUT_SIM_DB_DSN", dsn)
    run_dir = tmp_path / "run"
    code = cli.main(_apply_argv(run_dir, **overrides))
    err = capsys.readouterr().err
    assert code == cli.EXIT_REFUSED
    assert f"[{reason}] apply refused:" in err and named in err
    assert "pw@" not in err  # the DSN's password never shows
    assert not run_dir.exists()


def test_apply_with_simulation_values_passes_the_guards(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORGHUT_SIM_DB_DSN", SIM_DSN)
    with pytest.raises(AssertionError, match="a client was built"):
        cli.main(_apply_argv(tmp_path / "run"))


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--run-token", "Bad-Token"], "invalid_run_token"),
        # Replaying into a topic the run also reads from.
        (["--run-token", "x", "--source-topic", "trades=torghut.sim.trades.v1.x"], "production_topic"),
    ],
)
def test_replay_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], reason: str
) -> None:
    base = ["replay", "--bootstrap-servers", "127.0.0.1:9", "--dump", str(tmp_path / "d.jsonl.zst")]
    assert _refused(capsys, [*base, *argv]) == reason


def test_dump_with_a_bad_run_token_is_refused_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = [
        "dump",
        "--bootstrap-servers",
        "127.0.0.1:9",
        "--start",
        "2026-03-06T14:30:00Z",
        "--end",
        "2026-03-06T21:00:00Z",
        "--out",
        str(tmp_path / "out"),
        "--run-token",
        "../etc",
    ]
    assert _refused(capsys, argv) == "invalid_run_token"
    assert not (tmp_path / "out").exists()


def _state(paths: RunPaths, service: str) -> None:
    capture = ObjectCapture(role="knative_service", namespace="torghut", name=service, exists=True)
    write_state(
        paths.state,
        RuntimeState(
            run_id=NAMES.run_id,
            run_token=NAMES.run_token,
            dataset_id=NAMES.dataset_id,
            owner="dagster:r1",
            captured_at="2026-03-06T14:00:00Z",
            lock_namespace="torghut",
            objects=[capture],
        ),
    )


def test_teardown_of_a_state_naming_the_production_runtime_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    paths = RunPaths(tmp_path / NAMES.run_token)
    _state(paths, "torghut")
    before = sorted(p.name for p in paths.root.iterdir())
    argv = ["teardown", "--run-dir", str(paths.root), "--kubeconfig", str(tmp_path / "kubeconfig")]
    assert _refused(capsys, argv) == "production_runtime_service"
    assert sorted(p.name for p in paths.root.iterdir()) == before  # no run-state.json entry either


def test_the_cleanup_job_refuses_a_state_naming_the_production_runtime(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / NAMES.run_token)
    _state(paths, "torghut")
    job = build_cleanup_job("torghut_runtime_test")
    result = job.execute_in_process(
        run_config={"ops": {CLEANUP_OP: {"config": {"run_dir": str(paths.root)}}}},
        resources=cluster_resources(str(tmp_path / "absent"), "torghut"),
        raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert len(failures) == 1  # a refusal is not retried
    data = failures[0].step_failure_data
    assert data.user_failure_data is not None
    assert "[production_runtime_service]" in str(data.user_failure_data.description)
    assert not paths.run_state.exists()


def test_cleanup_execute_refuses_a_plan_with_a_production_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    items = (
        CleanupItem(KIND_CLICKHOUSE, "torghut", "ch", "x", None, "drop", "forged"),
        CleanupItem(KIND_TOPIC, "torghut.sim.trades.v1.sim_20200101_01", "k", "t", None, "drop", "old"),
    )
    monkeypatch.setattr(
        torghut_sim.stores.cleanup, "plan_cleanup", lambda *a, **k: CleanupPlan(now.date(), None, items)
    )
    argv = ["cleanup", "--older-than", "14d", "--execute", "--locked-run-token", "none"]
    assert _refused(capsys, argv) == "production_database"


def _manifest(**runtime: str) -> DatasetManifest:
    manifest = render_day_manifest(load_template(LOCAL_TEMPLATE), NAMES, session_window(DAY))
    if runtime:
        manifest = manifest.model_copy(update={"runtime": manifest.runtime.model_copy(update=runtime)})
    return manifest


def test_the_lifecycle_refuses_the_production_runtime_before_the_cluster(tmp_path: Path) -> None:
    manifest = _manifest(torghut_service="torghut")
    environ = {"TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD": "x", "TORGHUT_DEVSTACK_POSTGRES_PASSWORD": "y"}
    request = SimulationRequest(
        manifest=manifest,
        names=NAMES,
        paths=RunPaths(tmp_path / NAMES.run_token),
        cluster=lambda: RuntimeCluster.from_kubeconfig(tmp_path / "kubeconfig"),
        connections=resolve_connections(manifest, NAMES, environ),
    )
    with pytest.raises(GuardsRefusedError) as err:
        run_simulation_day(request)
    assert err.value.reason == "production_runtime_service"
    assert not (tmp_path / NAMES.run_token).exists()


def _marker(paths: RunPaths) -> None:
    start, end = datetime(2026, 3, 6, 14, 30, tzinfo=UTC), datetime(2026, 3, 6, 21, tzinfo=UTC)
    window = TimeRange(start=start, end=end)
    trades_marker(paths.dump.name, 1, window, window, ratio=1.0, span_minutes=390.0).write(paths.dump_marker)


def test_the_simulation_step_refuses_a_manifest_edited_to_production(tmp_path: Path) -> None:
    """A manifest.yaml changed after planning is guarded again before a lane or the lock is claimed."""
    settings = DeploymentSettings(
        template_path=str(LOCAL_TEMPLATE),
        output_root=str(tmp_path / "out"),
        kubeconfig=str(tmp_path / "kubeconfig"),
    )
    paths = run_paths(tmp_path / "out", NAMES.run_token)
    dump_manifest(_manifest(torghut_service="torghut"), paths.manifest)
    _marker(paths)
    calls: list[SimulationRequest] = []
    partitions = trading_day_partitions(settings.partitions_start)
    simulate = build_simulation_assets(partitions, "torghut_runtime_test", calls.append)  # type: ignore[arg-type]
    result = dg.materialize(
        simulate, partition_key=DAY.isoformat(), resources=build_resources(settings), raise_on_error=False
    )
    assert not result.success and calls == []
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert (
        "[production_runtime_service] simulate_day refused" in failures[0].step_failure_data.error.to_string()
    )
    assert not paths.state.exists() and not paths.run_state.exists()


def test_guard_mutation_is_the_same_rule_for_every_entry_point() -> None:
    env = {"DB_DSN": PROD_DSN}
    mutation = runtime_mutation("x", NAMES.run_id, NAMES.run_token, "torghut-sim", {}, env, "torghut_sim_a")
    with pytest.raises(GuardsRefusedError) as err:
        guard_mutation(mutation)
    failed = {r.name: r.reason for r in err.value.results if not r.ok}
    assert failed["runtime_env_targets"] == "production_database"
    assert failed["paper_only_env"] == "not_paper_only"
    assert guard_mutation(Mutation(entry_point="nothing")) == []
