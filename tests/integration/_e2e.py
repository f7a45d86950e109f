"""Helpers of the end-to-end tests: `dg launch` in a subprocess against a throwaway Dagster instance,
the runtime objects a simulation patches, run-state.json intervals, and bounded waits.

Every run goes through the real CLI with the environment `scripts/local-env.sh` sets, except that the
Dagster storage is a per-session Postgres database and each test has its own output root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
import pytest

from torghut_sim.layout import RunPaths, run_paths
from torghut_sim.naming import RunNames, names_for_day
from torghut_sim.runtime.kube_client import (
    APPLICATION,
    APPLICATIONSET,
    CONFIGMAP,
    FLINK_DEPLOYMENT,
    KNATIVE_SERVICE,
    Kube,
    ObjectRef,
)
from torghut_sim.runtime.lock import LockInfo, read_lock
from torghut_sim.runtime.teardown import teardown_run
from torghut_sim.stores.cleanup import CleanupPlan, execute_cleanup, plan_cleanup, trading_day_of
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "torghut"
EMPTY_DAY_ASSETS: tuple[str, ...] = ("replay_marker", "simulation_outputs", "simulation_report")
# Run config that makes a done day simulate again instead of reusing its outcome.
FRESH_SIMULATION_CONFIG: dict[str, Any] = {
    "ops": {"simulate_day": {"ops": {"simulation_gate": {"config": {"fresh_simulation": True}}}}}
}
# The one step of a day that holds the runtime pool's slot (inside the graph-backed `simulate_day`).
SIMULATE_STEP = "simulate_day.simulate_on_runtime"
BLOCKING_CHECKS: frozenset[str] = frozenset(
    {
        "full_day_window",
        "isolation_guards",
        "session_coverage",
        "exact_window",
        "no_contamination",
        "runtime_restored",
    }
)
REPORT_CHECKS: frozenset[str] = frozenset({"report_schema", "verdict"})
# Checks that only warn, besides the report's verdict.
WARNING_CHECKS: frozenset[str] = frozenset({"simulated_under_current_manifest"})
# The objects a simulation patches, by what the tests call them.
RUNTIME_OBJECTS: dict[str, ObjectRef] = {
    "knative_service": ObjectRef(KNATIVE_SERVICE, NAMESPACE, "torghut-sim"),
    "ta_configmap": ObjectRef(CONFIGMAP, NAMESPACE, "torghut-ta-sim-config"),
    "flink_deployment": ObjectRef(FLINK_DEPLOYMENT, NAMESPACE, "torghut-ta-sim"),
    "applicationset": ObjectRef(APPLICATIONSET, "argocd", "product"),
    "argocd_app": ObjectRef(APPLICATION, "argocd", "torghut"),
    "argocd_root": ObjectRef(APPLICATION, "argocd", "root"),
}
SEED_SYMBOLS = 3
LAUNCH_TIMEOUT = 1200.0
LOCK_FREE_TIMEOUT = 1200.0


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    """Poll until `check` returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def tail(path: Path, lines: int = 80) -> str:
    """The last lines of a log file (empty when it does not exist)."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- the runtime ------------------------------------------------------------------------------------


def runtime_objects(kube: Kube) -> dict[str, Any]:
    """What a simulation patches, as it is now: Knative and Flink specs, TA keys, Argo CD automation.

    The Argo CD Applications are optional (the local baseline has only the ApplicationSet): an absent
    one is recorded as absent, so a run that created one would show up as a difference.
    """

    def obj(name: str) -> dict[str, Any]:
        return kube.require(RUNTIME_OBJECTS[name])

    def sync_policy(name: str) -> Any:
        app = kube.get(RUNTIME_OBJECTS[name])
        return "absent" if app is None else app["spec"].get("syncPolicy")

    return {
        "knative_service.spec": obj("knative_service")["spec"],
        "ta_configmap.data": obj("ta_configmap").get("data") or {},
        "flink_deployment.spec": obj("flink_deployment")["spec"],
        "applicationset.spec": obj("applicationset")["spec"],
        "argocd_app.syncPolicy": sync_policy("argocd_app"),
        "argocd_root.syncPolicy": sync_policy("argocd_root"),
    }


def knative_env(kube: Kube) -> dict[str, str]:
    """The env of the runtime container of `Service/torghut-sim` as name → value."""
    service = kube.require(RUNTIME_OBJECTS["knative_service"])
    env = service["spec"]["template"]["spec"]["containers"][0].get("env") or []
    return {str(e["name"]): str(e.get("value", "")) for e in env}


def assert_runtime_matches(kube: Kube, baseline: Mapping[str, Any]) -> None:
    """Every patched object is as captured before the run, field for field."""
    now = runtime_objects(kube)
    changed = sorted(k for k in baseline if now.get(k) != baseline[k])
    assert not changed, f"runtime objects differ from the pre-run baseline: {changed}"


def wait_lock_free(kube: Kube, timeout: float = LOCK_FREE_TIMEOUT) -> None:
    """Wait until no simulation (another test, a demo) holds the runtime of `torghut`."""
    holder: list[LockInfo | None] = [None]

    def free() -> bool:
        holder[0] = read_lock(kube, NAMESPACE)
        return holder[0] is None

    deadline = time.monotonic() + timeout
    while not free():
        if time.monotonic() >= deadline:
            pytest.fail(
                f"the runtime lock of {NAMESPACE} stayed held by {holder[0] and holder[0].describe()}"
            )
        time.sleep(2.0)


# --- run directories --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayDir:
    """One trading day's names and run directory under a test's output root."""

    day: date
    names: RunNames
    paths: RunPaths

    @property
    def key(self) -> str:
        """The partition key."""
        return self.day.isoformat()

    def run_state(self) -> dict[str, Any]:
        """run-state.json (empty when it was never written)."""
        path = self.paths.run_state
        return json.loads(path.read_text()) if path.exists() else {}

    def transitions(self) -> list[dict[str, Any]]:
        """Every recorded transition."""
        items: list[dict[str, Any]] = self.run_state().get("transitions", [])
        return items

    def phase_started(self, *phases: str) -> str | None:
        """The first of `phases` that has started, if any."""
        for item in self.transitions():
            if item["phase"] in phases and item["status"] == "started":
                return str(item["phase"])
        return None

    def lock_interval(self) -> tuple[datetime, datetime]:
        """From the lock phase's start to the unlock phase's success: when the run held the runtime."""
        items = self.transitions()
        start = [t["at"] for t in items if t["phase"] == "lock" and t["status"] == "started"]
        end = [t["at"] for t in items if t["phase"] == "unlock" and t["status"] == "succeeded"]
        assert start and end, f"{self.paths.run_state} has no lock → unlock interval: {items}"
        return _at(start[0]), _at(end[-1])

    def report(self) -> dict[str, Any]:
        """The written simulation-report.json."""
        doc: dict[str, Any] = json.loads((self.paths.report_dir / "simulation-report.json").read_text())
        return doc


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def day_dir(output_root: Path, day: date) -> DayDir:
    """The first run of `day` under `output_root`, as the deployment names it (sequence 1)."""
    names = names_for_day(day, 1)
    return DayDir(day, names, run_paths(output_root.resolve(), names.run_token))


# --- the Dagster instance and `dg launch` -----------------------------------------------------------


def write_dagster_home(home: Path) -> None:
    """A DAGSTER_HOME holding a copy of the deployment's instance configuration."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")


def launch_argv(
    assets: tuple[str, ...], partition: str | None = None, config: Mapping[str, Any] | None = None
) -> list[str]:
    """`dg launch --assets … [--partition …] [--config-json …]`, as the demo runs it."""
    argv = [str(Path(sys.executable).parent / "dg"), "launch", "--assets", ",".join(assets)]
    if partition:
        argv += ["--partition", partition]
    return [*argv, "--config-json", json.dumps(config)] if config else argv


@dataclass
class Launch:
    """A `dg launch` running in its own process group, its output in a log file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def wait(self, timeout: float = LAUNCH_TIMEOUT) -> int:
        """Its exit code; the test fails (and the group is killed) when it outlives `timeout`."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"`dg launch` still running after {timeout:.0f}s:\n{tail(self.log)}")

    def expect_success(self, timeout: float = LAUNCH_TIMEOUT) -> None:
        """Fail with the log tail unless it exits 0."""
        code = self.wait(timeout)
        assert code == 0, f"`dg launch` exited with {code}:\n{tail(self.log)}"

    def kill(self) -> None:
        """SIGKILL the whole process group (the CLI and every step worker it spawned) and reap it."""
        pgid = self.proc.pid
        members = [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pgid]
        os.killpg(pgid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        _, alive = psutil.wait_procs(members, timeout=60)
        assert not alive, f"processes of the killed group survive: {[p.pid for p in alive]}"


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def start_launch(argv: list[str], env: Mapping[str, str], log: Path) -> Launch:
    """Start `argv` in the repository as the leader of a new process group, output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Launch(proc, log)


def wait_replay_started(launch: Launch, run_dir: DayDir, what: str, every: float) -> None:
    """Wait until the run's replay (or monitor) phase started; fail when `dg launch` ended before it."""

    def started() -> str | None:
        if launch.proc.poll() is not None:
            pytest.fail(f"`dg launch` ended before the replay:\n{tail(launch.log)}")
        return run_dir.phase_started("replay", "monitor")

    wait_for(f"the {what} of {run_dir.key} to start", started, timeout=900, every=every)


def seed(day: date, env: Mapping[str, str], log_dir: Path) -> None:
    """`devstack seed-day DAY --symbols 3 --reset`: a small generated session in the production source
    topics, which are cleared first when they hold later days."""
    log = log_dir / f"seed-{day.isoformat()}.log"
    launch = start_launch(
        [
            str(Path(sys.executable).parent / "devstack"),
            "seed-day",
            day.isoformat(),
            "--symbols",
            str(SEED_SYMBOLS),
            # A later day left in the topics (say by a demo) would hide this one from its window.
            "--reset",
        ],
        env,
        log,
    )
    code = launch.wait(600)
    assert code == 0, f"seeding {day} failed with {code}:\n{tail(log)}"


@contextmanager
def instance_env(env: Mapping[str, str]) -> Iterator[None]:
    """This process's environment pointed at the session's Dagster instance while the block runs."""
    keys = [k for k in env if k.startswith(("DAGSTER_", "TORGHUT_SIM_", "TORGHUT_DEVSTACK_"))]
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: env[k] for k in keys})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def runs_of_day(instance: dg.DagsterInstance, key: str) -> list[dg.DagsterRun]:
    """Every run of a trading-day partition, newest first."""
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": key})))


def only_run_of_day(instance: dg.DagsterInstance, key: str) -> dg.DagsterRun:
    """The single run of a partition (each test launches a day once)."""
    runs = runs_of_day(instance, key)
    assert len(runs) == 1, f"expected one run of {key}, found {[(r.run_id, r.status) for r in runs]}"
    return runs[0]


def events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list[Any]:
    """The Dagster events of one type a run logged."""
    return [e.dagster_event for e in instance.all_logs(run_id, of_type=kind) if e.dagster_event]


def materialized(instance: dg.DagsterInstance, run_id: str) -> dict[str, str | None]:
    """Asset key → partition of every materialization a run logged."""
    found: dict[str, str | None] = {}
    for event in events(instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION):
        mat = event.step_materialization_data.materialization
        found[mat.asset_key.to_user_string()] = mat.partition
    return found


def check_results(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[bool, str]]:
    """Check name → (passed, severity) of every asset check evaluation a run logged."""
    found: dict[str, tuple[bool, str]] = {}
    for event in events(instance, run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = event.event_specific_data
        found[evaluation.check_name] = (bool(evaluation.passed), evaluation.severity.value)
    return found


def started_steps(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The keys of every step a run started."""
    return {e.step_key for e in events(instance, run_id, dg.DagsterEventType.STEP_START) if e.step_key}


def materialization_metadata(instance: dg.DagsterInstance, asset: str, partition: str) -> dict[str, Any]:
    """The metadata values of an asset partition's latest materialization."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    assert records, f"{asset} {partition} was never materialized"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return metadata_values(materialization)


def metadata_values(materialization: dg.AssetMaterialization) -> dict[str, Any]:
    """A materialization's metadata as plain values."""
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


# --- simulation stores of a run ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stores:
    """Where a run's simulation databases and topics live on the local stack."""

    clickhouse: ClickHouseEndpoint
    postgres_admin_dsn: str
    kafka_config: dict[str, str]

    def plan(self, token: str) -> CleanupPlan:
        """Every simulation database and topic of one run token (all marked drop: its day is past)."""
        day = trading_day_of(token)
        assert day is not None, token
        now = datetime.combine(day + timedelta(days=2), datetime.min.time(), UTC)
        return plan_cleanup(
            now,
            timedelta(0),
            None,
            clickhouse=[self.clickhouse],
            postgres_admin_dsn=self.postgres_admin_dsn,
            kafka_config=self.kafka_config,
            token_prefix=token,
        )

    def leftovers(self, token: str) -> list[str]:
        """`kind:name` of every simulation object of a run token."""
        return sorted(f"{i.kind}:{i.name}" for i in self.plan(token).items)

    def drop(self, token: str) -> None:
        """Drop a run token's databases and topics (left by an earlier session) so the run starts clean."""
        plan = self.plan(token)
        execute_cleanup(
            plan,
            clickhouse=[self.clickhouse],
            postgres_admin_dsn=self.postgres_admin_dsn,
            kafka_config=self.kafka_config,
        )


@contextmanager
def restore_if_left_patched(launch: Launch, kubeconfig: Path, paths: RunPaths) -> Iterator[None]:
    """On the way out, kill a launch still running and finish a teardown the block left undone."""
    try:
        yield
    finally:
        if launch.proc.poll() is None:
            launch.kill()
        if paths.state.exists():
            with Kube.from_kubeconfig(kubeconfig) as kube:
                teardown_run(kube, paths, started_by={"command": "e2e_test_safety_net"})
