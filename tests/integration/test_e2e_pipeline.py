"""End to end on the local stack and the reference runtime of namespace `torghut`, through `dg launch`.

One full trading day (every asset, every check, verdict PASS, runtime back as it was, catalog), an empty
day (skipped before anything is provisioned), a day whose run is killed mid-replay (the run-failure sensor's
cleanup run restores the runtime), two days launched together (the pool and the runtime lock keep the
simulations apart in time), and two days on two runtime lanes (a second reference runtime in its own
namespace), which run side by side.

The reference runtime serves the real namespace `torghut`, so these tests run one after another and use
trading days no other test seeds. Each test has its own output root; the module has its own Dagster
Postgres database and DAGSTER_HOME (a copy of the top-level `dagster.yaml`).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from assets import DAY_ASSETS
from resources import DeploymentSettings
from sensors.cleanup import CLEANUP_JOB, FAILED_RUN_TAG, RUN_DIR_TAG
from tests.integration import _e2e as e2e
from torghut_sim.calendar import session_window
from torghut_sim.definitions import build_definitions
from torghut_sim.devstack.baseline import ensure_baseline
from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.host_env import host_pipeline_env
from torghut_sim.devstack.kube_fixtures import load_fixtures
from torghut_sim.devstack.service import Service
from torghut_sim.dump.marker import DumpMarker
from torghut_sim.manifest.run_settings import MonitorSpec
from torghut_sim.report.catalog import CATALOG_NAME
from torghut_sim.runtime.kube_client import CONFIGMAP, FLINK_DEPLOYMENT, KNATIVE_SERVICE, Kube, ObjectRef
from torghut_sim.runtime.lock import read_lock
from torghut_sim.secrets import dsn_with_database
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint
from torghut_sim.stores.production_postgres import PRODUCTION_POSTGRES_DATABASE

pytestmark = pytest.mark.timeout(1800)

# Trading days only these tests use (each a NYSE session; 2026-02-10 is never seeded by anyone).
FULL_DAY = date(2026, 5, 12)
EMPTY_DAY = date(2026, 2, 10)
INTERRUPTED_DAY = date(2026, 5, 13)
BACKFILL_DAYS = (date(2026, 5, 19), date(2026, 5, 20))
LANE_DAYS = (date(2026, 5, 21), date(2026, 5, 22))
CONTAMINATED_DAY = date(2026, 5, 27)
CLEANUP_SENSOR = "simulation_cleanup_on_failure"
RUNTIME_POOL = "torghut_runtime_default"


@dataclass(frozen=True)
class Session:
    """The module's Dagster instance and the local stack's endpoints."""

    home: Path
    database: str
    kubeconfig: Path
    instance: dg.DagsterInstance
    stores: e2e.Stores
    logs: Path


@dataclass(frozen=True)
class Pipeline:
    """One test's view: its output root, the environment `dg launch` gets, the cluster client."""

    session: Session
    output_root: Path
    env: dict[str, str]
    kube: Kube
    logs: Path
    launches: list[e2e.Launch] = field(default_factory=list)
    # Sensor contexts stay open until the test ends: the `argocd` resource nests `kubernetes`, which makes
    # it a context-manager resource that Dagster builds only inside an entered context.
    contexts: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def instance(self) -> dg.DagsterInstance:
        return self.session.instance

    def day(self, day: date) -> e2e.DayDir:
        return e2e.day_dir(self.output_root, day)

    def prepare(self, day: date) -> e2e.DayDir:
        """Seed the day and drop what an earlier session's run of it left in the stores."""
        e2e.seed(day, self.env, self.logs)
        run = self.day(day)
        self.session.stores.drop(run.names.run_token)
        return run

    def launch_day(self, day: date, config: dict[str, Any] | None = None) -> e2e.Launch:
        """`dg launch` of the day's five partitioned assets, started in its own process group."""
        argv = e2e.launch_argv(DAY_ASSETS, day.isoformat(), config)
        launch = e2e.start_launch(argv, self.env, self.logs / f"launch-{day.isoformat()}.log")
        self.launches.append(launch)
        return launch

    def baseline(self) -> dict[str, Any]:
        """The runtime objects once no simulation holds the runtime."""
        e2e.wait_lock_free(self.kube)
        return e2e.runtime_objects(self.kube)

    def definitions(self) -> dg.Definitions:
        """The code location as this test's `dg launch` loads it."""
        return build_definitions(DeploymentSettings.from_env(self.env))

    def sensor_context(self, defs: dg.Definitions, cursor: str | None = None) -> dg.SensorEvaluationContext:
        """A sensor tick's context on the module's instance with the code location's resources."""
        resources = defs.get_repository_def().get_top_level_resources()
        context = dg.build_sensor_context(
            instance=self.instance, definitions=defs, resources=resources, cursor=cursor
        )
        return self.contexts.enter_context(context)


@pytest.fixture(scope="module")
def session(
    tmp_path_factory: pytest.TempPathFactory,
    stack_config: StackConfig,
    postgres_service: Any,
    kafka_service: Service,
    clickhouse_service: Service,
    kube_service: Any,
    runtime_service: Service,
) -> Iterator[Session]:
    """The production baseline, a fresh Dagster database and DAGSTER_HOME, and the instance on them."""
    ensure_baseline(stack_config)
    admin_dsn = postgres_service.dsn()
    database = f"dagster_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    root = tmp_path_factory.mktemp("e2e")
    home = root / "dagster_home"
    e2e.write_dagster_home(home)
    kubeconfig = Path(kube_service.kubeconfig_path)
    env = host_pipeline_env(home, database, root / "unused", kubeconfig)
    stores = e2e.Stores(
        clickhouse=ClickHouseEndpoint(
            f"http://{stack_config.host}:{stack_config.ports.clickhouse}",
            "torghut",
            env["TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD"],
        ),
        postgres_admin_dsn=admin_dsn,
        kafka_config={"bootstrap.servers": f"{stack_config.host}:{stack_config.ports.kafka}"},
    )
    try:
        # Opening the instance creates its tables, so concurrent launches never race the migration.
        with e2e.instance_env(env), dg.DagsterInstance.get() as instance:
            yield Session(home, database, kubeconfig, instance, stores, root / "logs")
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


@pytest.fixture
def pipeline(session: Session, tmp_path: Path) -> Iterator[Pipeline]:
    """This test's output root and environment, and a client of the cluster."""
    output_root = tmp_path / "simulations"
    env = host_pipeline_env(session.home, session.database, output_root, session.kubeconfig)
    with Kube.from_kubeconfig(session.kubeconfig) as kube:
        pipeline = Pipeline(session, output_root, env, kube, tmp_path / "logs")
        with pipeline.contexts:
            yield pipeline
        # A launch runs in its own session: one a failed test left behind must not outlive it.
        for launch in pipeline.launches:
            if launch.proc.poll() is None:
                launch.kill()


def _env_value(knative_spec: dict[str, Any], name: str) -> str:
    """The literal value of one env entry of the runtime container."""
    env = knative_spec["template"]["spec"]["containers"][0]["env"]
    values = [entry["value"] for entry in env if entry["name"] == name]
    assert len(values) == 1, f"{name} is not set once in the runtime env"
    return str(values[0])


def test_full_trading_day_materializes_every_asset_and_check_and_restores_the_runtime(
    pipeline: Pipeline,
) -> None:
    run_dir = pipeline.prepare(FULL_DAY)
    before = pipeline.baseline()

    pipeline.launch_day(FULL_DAY).expect_success()

    instance = pipeline.instance
    run = e2e.only_run_of_day(instance, run_dir.key)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert e2e.materialized(instance, run.run_id) == dict.fromkeys(DAY_ASSETS, run_dir.key)
    checks = e2e.check_results(instance, run.run_id)
    assert set(checks) == e2e.BLOCKING_CHECKS | e2e.REPORT_CHECKS | e2e.WARNING_CHECKS
    failed = {name: result for name, result in checks.items() if not result[0]}
    assert not failed, f"checks did not pass: {failed}"
    for asset in DAY_ASSETS:
        latest = instance.get_latest_materialization_event(dg.AssetKey(asset))
        assert latest is not None and latest.run_id == run.run_id, asset

    report = run_dir.report()
    assert report["verdict"]["status"] == "PASS", report["verdict"]
    assert report["run_metadata"]["run_id"] == run_dir.names.run_id
    # The figures the UI plots are numbers: P&L as the float of the report's exact decimal, and the
    # run's time split into replay, monitor and the overhead around them.
    shown = e2e.materialization_metadata(instance, "simulation_report", run_dir.key)
    assert shown["net_pnl"] == float(report["pnl"]["net"])
    assert shown["decisions"] == report["funnel"]["decisions"]
    outputs = e2e.materialization_metadata(instance, "simulation_outputs", run_dir.key)
    assert 0 < outputs["overhead_seconds"] < outputs["run_seconds"], outputs
    assert outputs["replay_seconds"] > 0 and outputs["monitor_seconds"] > 0, outputs
    # The runtime's /metrics were scraped around the replay (URL from the Service status) and agree.
    runtime = report["runtime_metrics"]
    assert (runtime["status"], runtime["url_source"]) == ("ok", "service_status"), runtime
    assert runtime["decisions"] == report["funnel"]["decisions"]
    assert runtime["decisions_by_state"] == report["funnel"]["decision_status_counts"]
    assert runtime["orders_submitted"] == report["funnel"]["executions"]
    assert run_dir.run_state()["status"] == "succeeded"
    assert not run_dir.paths.state.exists() and (run_dir.paths.root / "state.restored.json").exists()
    e2e.assert_runtime_matches(pipeline.kube, before)
    assert read_lock(pipeline.kube, e2e.NAMESPACE) is None
    # The cursor was seeded under the account label the runtime trades with (the baseline's
    # TRADING_ACCOUNT_LABEL), so the runtime advanced that very row to the window's end.
    label = _env_value(before["knative_service.spec"], "TRADING_ACCOUNT_LABEL")
    cursors = pq.read_table(run_dir.paths.output_table("trade_cursor")).to_pylist()
    assert [(c["source"], c["account_label"]) for c in cursors] == [("clickhouse", label)]
    grace = timedelta(seconds=MonitorSpec().cursor_grace_seconds)
    assert cursors[0]["cursor_at"] >= session_window(FULL_DAY).session_end - grace

    catalog_log = pipeline.logs / "launch-catalog.log"
    e2e.start_launch(e2e.launch_argv(("simulation_catalog",)), pipeline.env, catalog_log).expect_success()
    catalog_run = instance.get_latest_materialization_event(dg.AssetKey("simulation_catalog"))
    assert catalog_run is not None
    with duckdb.connect(str(pipeline.output_root / CATALOG_NAME), read_only=True) as conn:
        rows = conn.execute("SELECT CAST(trading_day AS VARCHAR), run_id, verdict FROM verdicts").fetchall()
    assert rows == [(run_dir.key, run_dir.names.run_id, "PASS")]

    # Materialized again: the dump and the replayed topics are reused, the TA job reads them from the
    # start again (its group was dropped), and the day comes out the same.
    first_funnel = report["funnel"]
    pipeline.launch_day(FULL_DAY, config=e2e.FRESH_SIMULATION_CONFIG).expect_success()
    again = run_dir.report()
    assert again["verdict"]["status"] == "PASS", again["verdict"]
    assert again["funnel"] == first_funnel and again["pnl"] == report["pnl"]
    latest = {t["phase"]: t for t in run_dir.transitions() if t["status"] == "succeeded"}
    assert latest["replay"]["details"]["skipped"] is True
    reset = latest["provision"]["details"]["kafka_reset"]
    assert run_dir.names.ta_group_id in reset["groups_deleted"]
    assert reset["records_deleted"][run_dir.names.topic("ta_signals")] > 0
    e2e.assert_runtime_matches(pipeline.kube, before)


def test_empty_day_is_materialized_as_empty_day_before_anything_is_provisioned(pipeline: Pipeline) -> None:
    # Nothing is seeded for this session day: its source topics hold no record in its window.
    run_dir = pipeline.day(EMPTY_DAY)
    token = run_dir.names.run_token
    pipeline.session.stores.drop(token)
    before = pipeline.baseline()

    pipeline.launch_day(EMPTY_DAY).expect_success()

    marker = DumpMarker.read(run_dir.paths.dump_marker)
    assert (marker.status, marker.records) == ("empty_day", 0)
    instance = pipeline.instance
    run = e2e.only_run_of_day(instance, run_dir.key)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert e2e.materialized(instance, run.run_id) == dict.fromkeys(DAY_ASSETS, run_dir.key)
    for key in e2e.EMPTY_DAY_ASSETS:
        meta = e2e.materialization_metadata(instance, key, run_dir.key)
        assert meta["status"] == "empty_day", (key, meta)
    assert (
        "no source records"
        in e2e.materialization_metadata(instance, "simulation_outputs", run_dir.key)["reason"]
    )
    assert run_dir.report()["verdict"]["reasons"][0]["code"] == "empty_day"
    # The step on the runtime never started, so it never waited for nor held a runtime pool slot.
    assert e2e.SIMULATE_STEP not in e2e.started_steps(instance, run.run_id)
    coverage = e2e.check_results(instance, run.run_id).get("session_coverage")
    assert coverage == (False, "WARN"), coverage

    # Never locked, never captured, never provisioned.
    assert not run_dir.paths.run_state.exists() and not run_dir.paths.state.exists()
    assert pipeline.session.stores.leftovers(token) == []
    assert read_lock(pipeline.kube, e2e.NAMESPACE) is None
    e2e.assert_runtime_matches(pipeline.kube, before)


def test_interrupted_replay_is_restored_by_the_failure_sensor_cleanup(pipeline: Pipeline) -> None:
    run_dir = pipeline.prepare(INTERRUPTED_DAY)
    before = pipeline.baseline()
    defs = pipeline.definitions()
    # The sensor's first tick only sets its cursor past every earlier run event, as the daemon's does.
    first = defs.resolve_sensor_def(CLEANUP_SENSOR).evaluate_tick(pipeline.sensor_context(defs))
    assert not first.run_requests and first.cursor

    launch = pipeline.launch_day(INTERRUPTED_DAY)
    # Whatever goes wrong below, the shared runtime is not left patched for the next test.
    with e2e.restore_if_left_patched(launch, pipeline.session.kubeconfig, run_dir.paths):
        _interrupt_and_clean_up(pipeline, run_dir, launch, before, defs, first.cursor)


def test_a_row_written_into_production_postgres_during_the_run_fails_no_contamination(
    pipeline: Pipeline,
) -> None:
    run_dir = pipeline.prepare(CONTAMINATED_DAY)
    before = pipeline.baseline()
    production = dsn_with_database(pipeline.session.stores.postgres_admin_dsn, PRODUCTION_POSTGRES_DATABASE)
    row = uuid.uuid4()
    launch = pipeline.launch_day(CONTAMINATED_DAY)
    with e2e.restore_if_left_patched(launch, pipeline.session.kubeconfig, run_dir.paths):
        e2e.wait_replay_started(launch, run_dir, "replay", every=0.2)
        # Something writes a row of this run into the runtime's production database mid-run.
        context = {"params": {"simulation_context": {"simulation_run_id": run_dir.names.run_id}}}
        with psycopg.connect(production, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO trade_decisions (id, strategy_id, symbol, decision_json) "
                "VALUES (%s, %s, %s, %s)",
                (row, "e2e-contamination", "NVDA", Jsonb(context)),
            )
        try:
            code = launch.wait()
        finally:
            with psycopg.connect(production, autocommit=True) as conn:
                conn.execute("DELETE FROM trade_decisions WHERE id = %s", (row,))
    assert code != 0, "the contaminated run succeeded"

    run = e2e.only_run_of_day(pipeline.instance, run_dir.key)
    assert run.status == dg.DagsterRunStatus.FAILURE
    checks = e2e.check_results(pipeline.instance, run.run_id)
    assert checks["no_contamination"][0] is False, checks
    assert "simulation_report" not in e2e.materialized(pipeline.instance, run.run_id)
    evidence = json.loads(run_dir.paths.contamination.read_text())
    assert evidence["status"] == "contaminated"
    assert [(f["store"], f["target"]) for f in evidence["findings"]] == [("postgres", "trade_decisions")]
    preflight = next(
        t for t in run_dir.transitions() if t["phase"] == "preflight" and t["status"] == "succeeded"
    )
    assert preflight["details"]["production_postgres"] == {
        "database": "torghut",
        "source": "contract_default",
    }
    # The runtime was restored all the same.
    e2e.assert_runtime_matches(pipeline.kube, before)
    assert read_lock(pipeline.kube, e2e.NAMESPACE) is None


def _interrupt_and_clean_up(
    pipeline: Pipeline,
    run_dir: e2e.DayDir,
    launch: e2e.Launch,
    before: dict[str, Any],
    defs: dg.Definitions,
    cursor: str | None,
) -> None:
    """Kill the launch mid-replay, fail its Dagster run, run the sensor's cleanup request, check it."""
    instance = pipeline.instance
    sensor = defs.resolve_sensor_def(CLEANUP_SENSOR)

    e2e.wait_replay_started(launch, run_dir, "replay", every=0.1)
    launch.kill()

    # The runtime is left patched and locked by the dead run.
    assert e2e.knative_env(pipeline.kube).get("TRADING_SIMULATION_ENABLED") == "true"
    assert e2e.runtime_objects(pipeline.kube) != before
    holder = read_lock(pipeline.kube, e2e.NAMESPACE)
    assert holder is not None and holder.run_id == run_dir.names.run_id
    assert run_dir.run_state()["status"] == "running" and run_dir.paths.state.exists()

    run = e2e.only_run_of_day(instance, run_dir.key)
    assert run.status == dg.DagsterRunStatus.STARTED
    instance.report_run_failed(run)
    # The killed step never released its slot of the runtime pool; free it as the daemon's concurrency
    # monitor (or the UI's "free slots") would, else the cleanup op waits forever.
    pool = instance.event_log_storage.get_concurrency_info(RUNTIME_POOL)
    assert run.run_id in pool.active_run_ids
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)

    tick = sensor.evaluate_tick(pipeline.sensor_context(defs, cursor))
    requests = list(tick.run_requests or [])
    assert len(requests) == 1, tick.skip_message
    request = requests[0]
    assert request.tags[FAILED_RUN_TAG] == run.run_id
    assert request.tags[RUN_DIR_TAG] == str(run_dir.paths.root)

    cleanup = defs.resolve_job_def(CLEANUP_JOB).execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags
    )
    assert cleanup.success
    assert cleanup.output_for_node("restore_runtime_from_state") == "torn_down"

    e2e.assert_runtime_matches(pipeline.kube, before)
    assert read_lock(pipeline.kube, e2e.NAMESPACE) is None
    state = run_dir.run_state()
    assert state["status"] == "torn_down"
    commands = [t["details"].get("command") for t in state["transitions"]]
    after_kill = state["transitions"][commands.index("dagster_cleanup") :]
    succeeded = [t["phase"] for t in after_kill if t["status"] == "succeeded"]
    assert succeeded == ["teardown", "argocd_restore", "unlock"]
    assert after_kill[0]["details"]["dagster_run_id"] == cleanup.run_id
    assert not run_dir.paths.state.exists() and (run_dir.paths.root / "state.restored.json").exists()
    failed_run = instance.get_run_by_id(run.run_id)
    assert failed_run is not None and failed_run.status == dg.DagsterRunStatus.FAILURE


def test_two_days_launched_together_never_overlap_on_the_runtime(pipeline: Pipeline) -> None:
    days = [pipeline.prepare(day) for day in BACKFILL_DAYS]
    before = pipeline.baseline()

    launches = [pipeline.launch_day(d.day) for d in days]
    for launch, run_dir in zip(launches, days, strict=True):
        code = launch.wait()
        state = json.dumps(run_dir.run_state().get("transitions", [])[-4:], indent=1)
        assert code == 0, f"{run_dir.key}: `dg launch` exited {code}\n{e2e.tail(launch.log)}\n{state}"

    first, second = sorted((d.lock_interval() for d in days), key=lambda span: span[0])
    assert first[1] < second[0], f"lock intervals intersect: {first} and {second}"
    for run_dir in days:
        assert run_dir.report()["verdict"]["status"] == "PASS", run_dir.key
        run = e2e.only_run_of_day(pipeline.instance, run_dir.key)
        assert run.status == dg.DagsterRunStatus.SUCCESS
    e2e.assert_runtime_matches(pipeline.kube, before)
    assert read_lock(pipeline.kube, e2e.NAMESPACE) is None


@dataclass(frozen=True)
class SecondLane:
    """A second runtime lane: its namespace with the upstream objects, its own reference runtime."""

    namespace: str
    lanes_file: Path

    def objects(self, kube: Kube) -> dict[str, Any]:
        """The lane's patched objects as they are now."""
        refs = {
            "knative_service.spec": ObjectRef(KNATIVE_SERVICE, self.namespace, "torghut-sim"),
            "flink_deployment.spec": ObjectRef(FLINK_DEPLOYMENT, self.namespace, "torghut-ta-sim"),
            "ta_configmap.data": ObjectRef(CONFIGMAP, self.namespace, "torghut-ta-sim-config"),
        }
        return {
            k: kube.require(ref).get("data" if k.endswith(".data") else "spec") for k, ref in refs.items()
        }


@pytest.fixture
def second_lane(pipeline: Pipeline, tmp_path: Path) -> Iterator[SecondLane]:
    """The upstream objects in a fresh namespace, served by a second reference runtime controller."""
    namespace = f"torghut-lane-{uuid.uuid4().hex[:6]}"
    load_fixtures(pipeline.kube.api_client, namespace=namespace)
    heartbeat = tmp_path / "lane-heartbeat.json"
    log = (tmp_path / "lane-runtime.log").open("wb")
    argv = [sys.executable, "-m", "torghut_sim.devstack.refruntime", "--namespace", namespace]
    controller = subprocess.Popen(
        [*argv, "--heartbeat", str(heartbeat)], cwd=e2e.REPO, stdout=log, stderr=subprocess.STDOUT
    )
    lanes_file = tmp_path / "lanes.yaml"
    lanes = [
        {"name": "primary", "namespace": e2e.NAMESPACE, "manage_argocd": True},
        # The second runtime is outside Argo CD's automated sync: nothing to freeze around its runs.
        {"name": "second", "namespace": namespace, "manage_argocd": False},
    ]
    names = {"torghut_service": "torghut-sim", "ta_configmap": "torghut-ta-sim-config"}
    lanes_file.write_text(
        json.dumps({"lanes": [{**lane, **names, "ta_deployment": "torghut-ta-sim"} for lane in lanes]})
    )
    try:
        e2e.wait_for("the second lane's runtime heartbeat", heartbeat.exists, 60)
        yield SecondLane(namespace, lanes_file)
    finally:
        controller.terminate()
        controller.wait(30)
        log.close()


def test_two_days_on_two_runtime_lanes_run_side_by_side(pipeline: Pipeline, second_lane: SecondLane) -> None:
    days = [pipeline.prepare(day) for day in LANE_DAYS]
    before = pipeline.baseline()
    lane_before = second_lane.objects(pipeline.kube)
    pipeline.env["TORGHUT_SIM_RUNTIME_LANES_FILE"] = str(second_lane.lanes_file)
    defs = pipeline.definitions()
    storage = pipeline.instance.event_log_storage
    # What the daemon's `runtime_lane_pool` sensor does on its first tick: one pool slot per lane.
    tick = defs.resolve_sensor_def("runtime_lane_pool")(pipeline.sensor_context(defs))
    assert isinstance(tick, dg.SkipReason) and "to 2" in (tick.skip_message or "")
    try:
        launches = [pipeline.launch_day(d.day) for d in days]
        began = time.monotonic()
        for launch, run_dir in zip(launches, days, strict=True):
            code = launch.wait()
            assert code == 0, f"{run_dir.key}: `dg launch` exited {code}\n{e2e.tail(launch.log)}"
        elapsed = time.monotonic() - began
    finally:
        # The other tests of this module expect the instance's default limit of 1.
        storage.delete_concurrency_limit(RUNTIME_POOL)
    first, second = sorted((d.lock_interval() for d in days), key=lambda span: span[0])
    assert first[0] < second[1] and second[0] < first[1], (
        f"lanes did not overlap: {first} {second} ({elapsed:.0f}s)"
    )
    lanes_used = set()
    for run_dir in days:
        assert run_dir.report()["verdict"]["status"] == "PASS", run_dir.key
        run = e2e.only_run_of_day(pipeline.instance, run_dir.key)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        records = pipeline.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("simulation_outputs"), asset_partitions=[run_dir.key]
            ),
            limit=1,
        ).records
        assert records, run_dir.key
        materialization = records[0].asset_materialization
        assert materialization is not None
        lanes_used.add(materialization.metadata["runtime_lane"].value)
    assert lanes_used == {"primary", "second"}
    e2e.assert_runtime_matches(pipeline.kube, before)
    assert second_lane.objects(pipeline.kube) == lane_before
    assert read_lock(pipeline.kube, e2e.NAMESPACE) is None
    assert read_lock(pipeline.kube, second_lane.namespace) is None
