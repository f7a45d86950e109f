"""Partition backfills through the daemon, launched over GraphQL as the Dagster UI launches them.

`dg dev` (webserver and daemon) runs on a throwaway DAGSTER_HOME with the deployment's instance config
and its own Postgres database; the local stack and the reference runtime of namespace `torghut` serve the
runs. A three-day backfill with an empty day in the middle ends COMPLETED_SUCCESS with each day's outcome
materialized and the simulations one after another on the lane; backfilling the same days again reuses
them. Cancelling a backfill mid-simulation leaves the runtime restored and unlocked. With a second
runtime lane (a second reference runtime in its own namespace), a backfill puts days on both lanes and
never two at once on one.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from benchmarks import backfill_stack as bf
from resources import runtime_pool
from resources.deployment import DEFAULT_RUNTIME_LANE
from sensors.automation import REPORTS_AUTOMATION_SENSOR
from sensors.lanes import sync_pool_limit
from tests.integration import _e2e as e2e
from torghut_sim.day_template import LOCAL_TEMPLATE
from torghut_sim.devstack.baseline import ensure_baseline
from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.host_env import host_pipeline_env
from torghut_sim.devstack.service import Service
from torghut_sim.runtime.kube_client import CONFIGMAP, FLINK_DEPLOYMENT, KNATIVE_SERVICE, Kube, ObjectRef
from torghut_sim.runtime.lock import read_lock

pytestmark = pytest.mark.timeout(2400)

# Trading days only these tests use; the middle one is never seeded (an empty day).
BACKFILL_DAYS = (date(2026, 6, 15), date(2026, 6, 16), date(2026, 6, 17))
EMPTY_DAY = date(2026, 6, 16)
# The week and the month (their partition keys) that hold the backfilled days.
WEEK, MONTH = "2026-06-15", "2026-06-01"
CANCELLED_DAY = date(2026, 6, 23)
LANE_DAYS = (date(2026, 6, 24), date(2026, 6, 25), date(2026, 6, 26))
BACKFILL_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Backfills:
    """The running webserver and daemon, their instance, and the local stack around them."""

    stack: bf.DagsterStack
    instance: dg.DagsterInstance
    env: dict[str, str]
    output_root: Path
    kube: Kube
    stack_config: StackConfig
    admin_dsn: str
    logs: Path
    template: Path

    @contextlib.contextmanager
    def paced(self, acceleration: float) -> Iterator[None]:
        """Runs started inside replay at `acceleration` × event time (the template is read at run time)."""
        original = self.template.read_text()
        doc = yaml.safe_load(original)
        doc["replay"] = {**doc.get("replay", {}), "pace_mode": "accelerated", "acceleration": acceleration}
        self.template.write_text(yaml.safe_dump(doc, sort_keys=False))
        try:
            yield
        finally:
            self.template.write_text(original)

    def prepare(self, days: tuple[date, ...], empty: frozenset[date] = frozenset()) -> None:
        """Drop what earlier runs of the days left, then seed the non-empty ones in time order."""
        bf.prepare_days(
            days, sorted(empty), self.env, admin_dsn=self.admin_dsn, symbols=e2e.SEED_SYMBOLS, logs=self.logs
        )

    def day(self, day: date) -> e2e.DayDir:
        return e2e.day_dir(self.output_root, day)

    def run_to_end(self, days: tuple[date, ...]) -> tuple[str, str]:
        """Launch a backfill of the day assets over `days` and wait for it; (id, final status)."""
        backfill_id = bf.launch_backfill(self.stack, days)
        status, _seen = bf.wait_backfill(self.stack, backfill_id, BACKFILL_TIMEOUT)
        return backfill_id, status


@pytest.fixture(scope="module")
def backfills(
    tmp_path_factory: pytest.TempPathFactory,
    stack_config: StackConfig,
    postgres_service: Any,
    kafka_service: Service,
    clickhouse_service: Service,
    kube_service: Any,
    runtime_service: Service,
) -> Iterator[Backfills]:
    """`dg dev` on a fresh Dagster database and home, the instance on them, a cluster client."""
    ensure_baseline(stack_config)
    root = tmp_path_factory.mktemp("backfill")
    admin_dsn = postgres_service.dsn()
    kubeconfig = Path(kube_service.kubeconfig_path)
    with bf.dagster_database(admin_dsn) as database:
        home = root / "dagster_home"
        bf.write_home(home)
        env = host_pipeline_env(home, database, root / "simulations", kubeconfig)
        # A copy of the local template, so one test can pace its runs without touching the others'.
        template = root / "trading-day-template.yaml"
        template.write_text(LOCAL_TEMPLATE.read_text())
        env["TORGHUT_SIM_TEMPLATE"] = str(template)
        with (
            bf.dagster_stack(env, root / "logs" / "dg-dev.log") as stack,
            e2e.instance_env(env),
            dg.DagsterInstance.get() as instance,
            Kube.from_kubeconfig(kubeconfig) as kube,
        ):
            yield Backfills(
                stack,
                instance,
                env,
                root / "simulations",
                kube,
                stack_config,
                admin_dsn,
                root / "logs",
                template,
            )


def test_a_two_lane_backfill_uses_both_lanes_and_never_overlaps_on_one(
    tmp_path: Path,
    stack_config: StackConfig,
    postgres_service: Any,
    kafka_service: Service,
    clickhouse_service: Service,
    kube_service: Any,
    runtime_service: Service,
) -> None:
    # First in the module, so no other `dg dev` of this module is running beside this one's.
    ensure_baseline(stack_config)
    admin_dsn = postgres_service.dsn()
    kubeconfig = Path(kube_service.kubeconfig_path)
    second = f"torghut-lane-{uuid.uuid4().hex[:6]}"
    with (
        bf.dagster_database(admin_dsn) as database,
        Kube.from_kubeconfig(kubeconfig) as kube,
    ):
        home = tmp_path / "dagster_home"
        bf.write_home(home)
        env = host_pipeline_env(home, database, tmp_path / "simulations", kubeconfig)
        with bf.extra_runtime(kubeconfig, second, env, tmp_path / "logs" / "runtime-lane2.log"):
            env["TORGHUT_SIM_RUNTIME_LANES_FILE"] = str(
                bf.lanes_file_for([e2e.NAMESPACE, second], tmp_path / "lanes.yaml")
            )
            for day in LANE_DAYS:
                bf.drop_run_stores(
                    e2e.day_dir(tmp_path / "simulations", day).names.run_token,
                    f"http://{stack_config.host}:{stack_config.ports.clickhouse}",
                    env["TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD"],
                    admin_dsn,
                    f"{stack_config.host}:{stack_config.ports.kafka}",
                )
            bf.seed_days(LANE_DAYS, env, e2e.SEED_SYMBOLS, tmp_path / "logs")
            before = e2e.runtime_objects(kube)
            second_before = _lane_objects(kube, second)
            e2e.wait_lock_free(kube)
            with (
                bf.dagster_stack(env, tmp_path / "logs" / "dg-dev.log") as stack,
                e2e.instance_env(env),
                dg.DagsterInstance.get() as instance,
            ):
                # What the daemon's `runtime_lane_pool` sensor does on its first tick: one slot per lane.
                sync_pool_limit(instance, runtime_pool(DEFAULT_RUNTIME_LANE), 2)
                backfill_id = bf.launch_backfill(stack, LANE_DAYS)
                status, _seen = bf.wait_backfill(stack, backfill_id, BACKFILL_TIMEOUT)
                timings = bf.backfill_timings(instance, backfill_id)
        after = e2e.runtime_objects(kube)
        second_after = _lane_objects(kube, second)
        locks = (read_lock(kube, e2e.NAMESPACE), read_lock(kube, second))

    assert status == "COMPLETED_SUCCESS", [(t.day, t.status) for t in timings]
    assert all(t.status == "SUCCESS" for t in timings), timings
    assert {t.lane for t in timings} == {"primary", "lane2"}, [(t.day, t.lane) for t in timings]
    # Two days never held one lane's runtime at once (run-state.json: lock -> unlock). The steps' spans
    # may touch: a step holding a freed pool slot waits for the lane's lock while the previous day's step
    # on that lane writes its outputs.
    assert bf.lock_overlaps(timings, tmp_path / "simulations") == []
    for day in LANE_DAYS:
        assert e2e.day_dir(tmp_path / "simulations", day).report()["verdict"]["status"] == "PASS", day
    assert after == before
    assert second_after == second_before
    assert locks == (None, None)


def _lane_objects(kube: Kube, namespace: str) -> dict[str, Any]:
    """What a simulation patches on a second lane: its Knative, Flink and TA ConfigMap as they are now."""
    refs = {
        "knative_service.spec": ObjectRef(KNATIVE_SERVICE, namespace, "torghut-sim"),
        "flink_deployment.spec": ObjectRef(FLINK_DEPLOYMENT, namespace, "torghut-ta-sim"),
        "ta_configmap.data": ObjectRef(CONFIGMAP, namespace, "torghut-ta-sim-config"),
    }
    return {k: kube.require(ref).get("data" if k.endswith(".data") else "spec") for k, ref in refs.items()}


def _status(backfills: Backfills, asset: str, day: date) -> str:
    return str(e2e.materialization_metadata(backfills.instance, asset, day.isoformat())["status"])


def _wait_period(backfills: Backfills, asset: str, partition: str, days_reported: int) -> dict[str, Any]:
    """The metadata of the period partition once the automation sensor has built it over its days."""

    def built() -> dict[str, Any] | None:
        record = bf.latest_materialization(backfills.instance, asset, partition)
        if record is None or record.asset_materialization is None:
            return None
        run = backfills.instance.get_run_by_id(record.run_id)
        assert run is not None
        assert run.tags.get("dagster/sensor_name") == REPORTS_AUTOMATION_SENSOR, run.tags
        metadata = e2e.metadata_values(record.asset_materialization)
        return metadata if metadata["days_reported"] >= days_reported else None

    found: dict[str, Any] = e2e.wait_for(f"{asset} {partition} to be built", built, timeout=300)
    return found


def _catalog_rebuilds_within(backfills: Backfills, span: tuple[float, float]) -> list[str]:
    """The automation sensor's catalog runs that started between `span`'s two times."""
    records = backfills.instance.get_run_records(
        dg.RunsFilter(tags={"dagster/sensor_name": REPORTS_AUTOMATION_SENSOR})
    )
    return [
        r.dagster_run.run_id
        for r in records
        if r.dagster_run.asset_selection == {dg.AssetKey("simulation_catalog")}
        and r.start_time is not None
        and span[0] <= r.start_time <= span[1]
    ]


def test_a_backfill_with_an_empty_day_succeeds_one_simulation_at_a_time(backfills: Backfills) -> None:
    backfills.prepare(BACKFILL_DAYS, frozenset({EMPTY_DAY}))
    before = e2e.runtime_objects(backfills.kube)
    e2e.wait_lock_free(backfills.kube)

    backfill_id, status = backfills.run_to_end(BACKFILL_DAYS)

    timings = bf.backfill_timings(backfills.instance, backfill_id)
    assert status == "COMPLETED_SUCCESS", [(t.day, t.status) for t in timings]
    assert sorted(t.day for t in timings) == [d.isoformat() for d in BACKFILL_DAYS]
    assert all(t.status == "SUCCESS" for t in timings), timings
    for day in BACKFILL_DAYS:
        run_dir = backfills.day(day)
        report = run_dir.report()
        assert report["schema_version"] == "torghut.simulation-report.v1"
        if day == EMPTY_DAY:
            for asset in e2e.EMPTY_DAY_ASSETS:
                assert _status(backfills, asset, day) == "empty_day", asset
            assert [r["code"] for r in report["verdict"]["reasons"]] == ["empty_day"]
            assert not run_dir.paths.run_state.exists()
        else:
            assert _status(backfills, "simulation_outputs", day) == "simulated"
            assert report["verdict"]["status"] == "PASS", (day, report["verdict"])
    by_day = {t.day: t for t in timings}
    # The empty day never entered the runtime pool: its run has no simulation step at all.
    assert by_day[EMPTY_DAY.isoformat()].simulation is None
    # One lane: the simulation steps (event log) and the lock intervals (run-state.json) never overlap.
    assert bf.lane_overlaps(timings) == []
    simulated = [backfills.day(d) for d in BACKFILL_DAYS if d != EMPTY_DAY]
    first, second = sorted((d.lock_interval() for d in simulated), key=lambda span: span[0])
    assert first[1] < second[0], f"lock intervals intersect: {first} and {second}"
    e2e.assert_runtime_matches(backfills.kube, before)
    assert read_lock(backfills.kube, e2e.NAMESPACE) is None

    # The daemon's automation sensor then rebuilds the days' week (Juneteenth, the 19th, is a holiday).
    week = _wait_period(backfills, "weekly_period_report", WEEK, days_reported=2)
    assert week["period_id"] == "2026-06-15_2026-06-21", week
    assert week["trading_days"] == 4
    assert week["days_without_report"] == ["2026-06-16 empty_day", "2026-06-18 not_run"]
    month = _wait_period(backfills, "monthly_period_report", MONTH, days_reported=2)
    assert month["period_id"] == "2026-06-01_2026-06-30", month
    # The catalog waited for the backfill's reports instead of being rebuilt after each day, and was
    # rebuilt once more after the period reports, so their views are in it.
    span = (min(t.start for t in timings), max(t.end for t in timings))
    assert _catalog_rebuilds_within(backfills, span) == []
    e2e.wait_for(
        "the catalog to be rebuilt after the period reports",
        lambda: bf.derived_ready(backfills.instance, timings),
        timeout=300,
    )
    catalog = bf.latest_materialization(backfills.instance, "simulation_catalog")
    assert catalog is not None
    assert catalog.asset_materialization is not None
    assert e2e.metadata_values(catalog.asset_materialization)["missing_views"] == "none"

    # The same days again: every day is done, so nothing is simulated and the outcomes are reused.
    again_id, again = backfills.run_to_end(BACKFILL_DAYS)
    assert again == "COMPLETED_SUCCESS"
    rerun = bf.backfill_timings(backfills.instance, again_id)
    assert all(t.simulation is None for t in rerun), [(t.day, [s.key for s in t.steps]) for t in rerun]
    for run_dir in simulated:
        assert _status(backfills, "simulation_outputs", run_dir.day) == "reused"
        assert run_dir.report()["verdict"]["status"] == "PASS"
    assert _status(backfills, "simulation_outputs", EMPTY_DAY) == "empty_day"


def test_cancelling_a_backfill_mid_simulation_restores_the_runtime(backfills: Backfills) -> None:
    backfills.prepare((CANCELLED_DAY,))
    run_dir = backfills.day(CANCELLED_DAY)
    before = e2e.runtime_objects(backfills.kube)
    e2e.wait_lock_free(backfills.kube)

    # The daemon acts on a cancel at its next backfill iteration (every 30 s). Unpaced, the day's replay and
    # monitor can end before that and the run succeeds; paced at 60 × its 6.5 h session, the replay alone
    # lasts 6.5 min, so the cancel lands mid-simulation however the iterations fall.
    with backfills.paced(acceleration=60):
        backfill_id = bf.launch_backfill(backfills.stack, (CANCELLED_DAY,))
        e2e.wait_for(
            f"the simulation of {CANCELLED_DAY} to replay",
            lambda: run_dir.phase_started("replay", "monitor"),
            timeout=BACKFILL_TIMEOUT,
            every=0.5,
        )
    assert read_lock(backfills.kube, e2e.NAMESPACE) is not None
    bf.cancel_backfill(backfills.stack, backfill_id)

    status, _seen = bf.wait_backfill(backfills.stack, backfill_id, 600)
    assert status in {"CANCELED", "COMPLETED_FAILED"}, status
    (timing,) = bf.backfill_timings(backfills.instance, backfill_id)

    def run_finished() -> dg.DagsterRun | None:
        run = backfills.instance.get_run_by_id(timing.run_id)
        return run if run is not None and run.is_finished else None

    run = e2e.wait_for("the cancelled run to end", run_finished, timeout=600)
    assert run.status in {dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE}, run.status
    interrupted = [t["phase"] for t in run_dir.transitions() if t["status"] == "interrupted"]
    assert interrupted == ["replay", "run"], run_dir.transitions()[-5:]
    # Restored on the way out of the interrupted lifecycle (or by the cleanup run of the cancel sensor).
    e2e.wait_lock_free(backfills.kube, timeout=600)
    e2e.wait_for("state.json to be retired", lambda: not run_dir.paths.state.exists(), timeout=300)
    e2e.assert_runtime_matches(backfills.kube, before)
    assert (run_dir.paths.root / "state.restored.json").exists()
    assert not run_dir.paths.restore_required.exists()
    phases = {t["phase"]: t["status"] for t in run_dir.transitions()}
    assert phases.get("unlock") == "succeeded", run_dir.transitions()[-5:]
