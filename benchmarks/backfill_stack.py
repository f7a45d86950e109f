"""Driving partition backfills the way the Dagster UI does, on the local stack, and timing them.

`dg dev` (webserver and daemon) runs on loopback with a throwaway DAGSTER_HOME (a copy of the
deployment's top-level `dagster.yaml`: Postgres storage, queued runs, the runtime pool) and its own
Postgres database; backfills are launched with the UI's GraphQL mutation `launchPartitionBackfill`, and
their runs are timed from the event log: each step's work, the run's wall time, the backfill's floor.
A second runtime lane (the upstream objects in a namespace of their own, served by a second reference
runtime) lets a backfill simulate two days at once. Used by `benchmarks/backfill_bench.py` and the
backfill integration tests.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import dagster as dg
import psycopg
from psycopg import sql

from assets import DAY_ASSETS
from torghut_sim.devstack.kube_fixtures import load_fixtures
from torghut_sim.layout import run_paths
from torghut_sim.naming import names_for_day
from torghut_sim.runtime.kube_client import Kube

REPO = Path(__file__).resolve().parents[1]
SIMULATE_STEP = "simulate_day.simulate_on_runtime"
REPORT_STEP = "simulation_report"
SIMULATION_ASSET = "simulation_outputs"
PRIMARY_NAMESPACE = "torghut"
# The runtime objects of the upstream fixtures; every lane of the local stack uses the same names.
LANE_OBJECTS = {
    "torghut_service": "torghut-sim",
    "ta_configmap": "torghut-ta-sim-config",
    "ta_deployment": "torghut-ta-sim",
}
# Backfill states after which the daemon launches nothing more.
FINAL_BACKFILL_STATES = frozenset(
    {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
)
# No automation ticks competing for the 2 cores (the instance file already turns the sign-up dialog off).
INSTANCE_EXTRA = "\nauto_materialize:\n  enabled: false\n"

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}
"""
BACKFILL_STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } }
}
"""
CANCEL_BACKFILL = """
mutation Cancel($id: String!) {
  cancelPartitionBackfill(backfillId: $id) { __typename ... on PythonError { message } }
}
"""
LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on PythonError { message }
      ... on RepositoryLocation { repositories { name } } } } } } }
"""


class StackError(RuntimeError):
    """The webserver or daemon did not come up, or a request to them failed."""

    reason = "backfill_stack_error"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def dagster_database(admin_dsn: str) -> Iterator[str]:
    """A fresh Postgres database for one Dagster instance, dropped afterwards."""
    name = f"dagster_backfill_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def write_home(home: Path) -> None:
    """A DAGSTER_HOME with the deployment's instance config (and no automation ticks)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    with (home / "dagster.yaml").open("a") as out:
        out.write(INSTANCE_EXTRA)


@dataclass
class DagsterStack:
    """A running `dg dev`: its URL, the code location serving the project, its log and process group."""

    base_url: str
    proc: subprocess.Popen[bytes]
    log: Path
    location: str = ""
    repository: str = ""

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL request; the `data` of the answer."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise StackError(f"GraphQL errors: {answer['errors']}")
        return dict(answer["data"])

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the `dg dev` log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop `dg dev` and everything it started (its own process group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            pass
        else:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.proc.wait(timeout=30)


def _wait_ready(stack: DagsterStack, timeout: float) -> None:
    """Until the webserver answers and the project's code location has loaded."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        if stack.proc.poll() is not None:
            raise StackError(f"dg dev exited with {stack.proc.returncode}:\n{stack.log_tail()}")
        try:
            seen = stack.graphql(LOCATIONS)["workspaceOrError"]
        except (urllib.error.URLError, OSError, StackError):
            time.sleep(1)
            continue
        for entry in seen.get("locationEntries", []):
            loaded = entry.get("locationOrLoadError") or {}
            if loaded.get("__typename") == "PythonError":
                raise StackError(f"code location {entry['name']} failed to load:\n{loaded['message']}")
            for repo in loaded.get("repositories", []):
                stack.location, stack.repository = entry["name"], repo["name"]
                return
        time.sleep(1)
    raise StackError(f"the code location did not load within {timeout:.0f}s: {seen}\n{stack.log_tail()}")


@contextmanager
def dagster_stack(env: Mapping[str, str], log: Path, timeout: float = 300.0) -> Iterator[DagsterStack]:
    """`dg dev` (webserver and daemon) on a free loopback port, stopped on the way out."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = DagsterStack(f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_ready(stack, timeout)
        yield stack
    finally:
        stack.stop()


class Webserver(Protocol):
    """What the backfill helpers need of a running webserver: its GraphQL, and its log for failures."""

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]: ...

    def log_tail(self, lines: int = 60) -> str: ...


def launch_backfill(
    stack: Webserver,
    days: Sequence[date],
    assets: Sequence[str] = DAY_ASSETS,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Launch a backfill of `assets` over `days` as the UI's "Materialize → backfill" does; its id."""
    params = {
        "partitionNames": [d.isoformat() for d in days],
        "assetSelection": [{"path": [a]} for a in assets],
        "fromFailure": False,
        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
    }
    answer = stack.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise StackError(f"launchPartitionBackfill: {answer}")
    return str(answer["backfillId"])


def backfill_status(stack: Webserver, backfill_id: str) -> str:
    """The backfill's status as the UI shows it (REQUESTED, COMPLETED_SUCCESS, COMPLETED_FAILED, …)."""
    found = stack.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
    return str(found.get("status", found["__typename"]))


def wait_backfill(stack: Webserver, backfill_id: str, timeout: float) -> tuple[str, float]:
    """Poll until the backfill reaches a final state; (status, monotonic time it was first seen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = backfill_status(stack, backfill_id)
        if status in FINAL_BACKFILL_STATES:
            return status, time.monotonic()
        time.sleep(1)
    raise StackError(f"backfill {backfill_id} not finished after {timeout:.0f}s\n{stack.log_tail()}")


def cancel_backfill(stack: Webserver, backfill_id: str) -> None:
    """Cancel a backfill as the UI's "Cancel backfill" does (its running runs are terminated)."""
    answer = stack.graphql(CANCEL_BACKFILL, {"id": backfill_id})["cancelPartitionBackfill"]
    if answer["__typename"] == "PythonError":
        raise StackError(f"cancelPartitionBackfill: {answer['message']}")


# --- timing from the event log ----------------------------------------------------------------------


@dataclass(frozen=True)
class StepSpan:
    """One step's execution: from STEP_START to its success or failure (waiting for a slot excluded)."""

    key: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        """Its work."""
        return self.end - self.start


@dataclass(frozen=True)
class RunTiming:
    """One day's run: wall time, the steps it executed, and what was neither."""

    day: str
    run_id: str
    status: str
    start: float
    end: float
    steps: list[StepSpan] = field(default_factory=list)
    # The runtime lane its simulation ran on (`runtime_lane` of simulation_outputs), None when not simulated.
    lane: str | None = None
    # When the backfill daemon submitted it (the run was created).
    created: float = 0.0

    @property
    def wall(self) -> float:
        """From the run's start to its end."""
        return self.end - self.start

    @property
    def work(self) -> float:
        """The steps' own time (they run one after another in the run's process)."""
        return sum(s.seconds for s in self.steps)

    @property
    def simulation(self) -> StepSpan | None:
        """The step on the runtime, when the day was simulated."""
        return next((s for s in self.steps if s.key == SIMULATE_STEP), None)

    @property
    def pool_wait(self) -> float:
        """Time the run waited for the runtime pool: the gap before the simulation step started."""
        sim = self.simulation
        if sim is None:
            return 0.0
        before = [s.end for s in self.steps if s.end <= sim.start]
        return sim.start - max(before) if before else 0.0

    @property
    def overhead(self) -> float:
        """Orchestration: the wall time that was neither a step's work nor waiting for the pool."""
        return self.wall - self.work - self.pool_wait


def step_spans(instance: dg.DagsterInstance, run_id: str) -> list[StepSpan]:
    """Every executed step of a run, in start order."""
    return _run_events(instance, run_id)[0]


def _run_events(instance: dg.DagsterInstance, run_id: str) -> tuple[list[StepSpan], str | None]:
    """A run's executed steps in start order, and the runtime lane its simulation materialized."""
    starts: dict[str, float] = {}
    spans: list[StepSpan] = []
    lane: str | None = None
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        materialization = (
            event.step_materialization_data.materialization if event.is_step_materialization else None
        )
        if materialization is not None and materialization.asset_key.path[-1] == SIMULATION_ASSET:
            value = materialization.metadata.get("runtime_lane")
            lane = str(value.value) if value is not None else lane
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
        elif event.step_key in starts and event.event_type in {
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        }:
            spans.append(StepSpan(event.step_key, starts[event.step_key], record.timestamp))
    return sorted(spans, key=lambda s: s.start), lane


def failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """The message of a run's failure (or of its last engine event), for the benchmark's report."""
    for record in reversed(list(instance.all_logs(run_id))):
        event = record.dagster_event
        if event is not None and event.event_type in {
            dg.DagsterEventType.RUN_FAILURE,
            dg.DagsterEventType.ENGINE_EVENT,
            dg.DagsterEventType.STEP_FAILURE,
        }:
            return (event.message or record.user_message or "")[:500]
    return "no failure event"


def backfill_timings(instance: dg.DagsterInstance, backfill_id: str) -> list[RunTiming]:
    """Every run of a backfill, timed, by trading day."""
    timings = []
    for record in instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id})):
        run = record.dagster_run
        start = record.start_time or record.create_timestamp.timestamp()
        end = record.end_time or time.time()
        steps, lane = _run_events(instance, run.run_id)
        timings.append(
            RunTiming(
                day=run.tags.get("dagster/partition", "?"),
                run_id=run.run_id,
                status=run.status.value,
                start=start,
                end=end,
                steps=steps,
                lane=lane if any(s.key == SIMULATE_STEP for s in steps) else None,
                created=record.create_timestamp.timestamp(),
            )
        )
    return sorted(timings, key=lambda t: t.day)


@dataclass(frozen=True)
class Floor:
    """The work a backfill cannot avoid, in its three parts."""

    before_first_simulation: float
    simulations: float
    last_report: float

    @property
    def total(self) -> float:
        """Their sum."""
        return self.before_first_simulation + self.simulations + self.last_report


def backfill_floor(timings: Sequence[RunTiming]) -> Floor:
    """The first simulated day's steps before its simulation, the simulations of the busiest lane one
    after another, and the last simulated day's steps after its simulation (its report and checks)."""
    simulated = sorted(
        ((t, t.simulation) for t in timings if t.simulation is not None), key=lambda p: p[1].start
    )
    if not simulated:
        return Floor(0.0, 0.0, 0.0)
    (first, first_sim) = simulated[0]
    (last, last_sim) = max(simulated, key=lambda p: p[1].end)
    before = sum(s.seconds for s in first.steps if s.end <= first_sim.start)
    by_lane: dict[str | None, float] = {}
    for timing, sim in simulated:
        by_lane[timing.lane] = by_lane.get(timing.lane, 0.0) + sim.seconds
    after = sum(s.seconds for s in last.steps if s.start >= last_sim.end)
    return Floor(before, max(by_lane.values()), after)


def drop_run_stores(
    token: str, clickhouse_url: str, clickhouse_password: str, admin_dsn: str, kafka: str
) -> None:
    """Drop the simulation databases, topics and groups an earlier run of a token left (a clean start)."""
    from torghut_sim.stores.cleanup import execute_cleanup, plan_cleanup, trading_day_of  # noqa: PLC0415
    from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint  # noqa: PLC0415

    day = trading_day_of(token)
    if day is None:
        raise StackError(f"{token} names no trading day")
    endpoints = [ClickHouseEndpoint(clickhouse_url, "torghut", clickhouse_password)]
    kafka_config = {"bootstrap.servers": kafka}
    now = datetime.combine(day + timedelta(days=2), datetime.min.time(), UTC)
    plan = plan_cleanup(
        now,
        timedelta(0),
        None,
        clickhouse=endpoints,
        postgres_admin_dsn=admin_dsn,
        kafka_config=kafka_config,
        token_prefix=token,
    )
    execute_cleanup(plan, clickhouse=endpoints, postgres_admin_dsn=admin_dsn, kafka_config=kafka_config)


def drop_days_stores(days: Sequence[date], env: Mapping[str, str], admin_dsn: str) -> None:
    """Drop what earlier runs of `days` left in the stores (databases, topics, consumer groups).

    The stack's addresses come from `env` (the host's pipeline environment): ClickHouse, Kafka, passwords.
    """
    from torghut_sim.naming import names_for_day  # noqa: PLC0415

    for day in days:
        drop_run_stores(
            names_for_day(day, 1).run_token,
            env["TORGHUT_SIM_CLICKHOUSE_HTTP_URL"],
            env["TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD"],
            admin_dsn,
            env["TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS"],
        )


def prepare_days(
    days: Sequence[date],
    empty: Sequence[date],
    env: Mapping[str, str],
    *,
    admin_dsn: str,
    symbols: int,
    logs: Path,
) -> None:
    """Drop what earlier runs of `days` left in the stores, then seed all but the `empty` ones in order."""
    drop_days_stores(days, env, admin_dsn)
    seed_days([d for d in days if d not in empty], env, symbols, logs)


def seed_days(days: Sequence[date], env: Mapping[str, str], symbols: int, logs: Path) -> None:
    """Seed `days` into the production source topics in time order, the topics cleared first.

    The first day goes with `--reset --force` (a day seeded by an earlier session would otherwise be
    skipped, leaving later days in the topics ahead of the ones that follow). A broker still electing
    leaders after the reset may refuse once: the whole sequence is then tried again from a reset.
    """
    devstack = str(Path(sys.executable).parent / "devstack")
    for attempt in range(3):
        failed: Path | None = None
        for i, day in enumerate(sorted(days)):
            argv = [devstack, "seed-day", day.isoformat(), "--symbols", str(symbols)]
            log = logs / f"seed-{day.isoformat()}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("wb") as out:
                done = subprocess.run(
                    [*argv, *(["--reset", "--force"] if i == 0 else [])],
                    check=False,
                    cwd=REPO,
                    env=dict(env),
                    stdout=out,
                    stderr=out,
                )
            if done.returncode != 0:
                failed = log
                break
        if failed is None:
            return
        if attempt < 2:
            time.sleep(10)
    raise StackError(f"seeding failed: {failed and failed.read_text()[-2000:]}")


def lane_overlaps(timings: Sequence[RunTiming]) -> list[tuple[str, str]]:
    """Pairs of days whose simulation steps overlapped in time on one lane (one lane: must be empty).

    With several lanes the pool's slots are shared, so a step may start (and wait for its lane's lock)
    while the previous day's step on that lane is still writing its outputs: `lock_overlaps` then says
    whether two days ever held one runtime at once.
    """
    spans = sorted(
        ((t.day, t.lane, t.simulation) for t in timings if t.simulation is not None), key=lambda p: p[2].start
    )
    return [
        (a[0], b[0])
        for i, a in enumerate(spans)
        for b in spans[i + 1 :]
        if a[1] == b[1] and b[2].start < a[2].end
    ]


def lock_interval(run_state: Path) -> tuple[datetime, datetime] | None:
    """When a day's run held its runtime lane (run-state.json: lock started -> unlock succeeded)."""
    try:
        items = json.loads(run_state.read_text()).get("transitions", [])
    except (OSError, ValueError):
        return None
    start = [t["at"] for t in items if t.get("phase") == "lock" and t.get("status") == "started"]
    end = [t["at"] for t in items if t.get("phase") == "unlock" and t.get("status") == "succeeded"]
    if not start or not end:
        return None
    return _utc(start[0]), _utc(end[-1])


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def lock_overlaps(timings: Sequence[RunTiming], output_root: Path) -> list[tuple[str, str]]:
    """Pairs of days that held the same lane's runtime lock at once (must be empty, any lane count)."""
    held = []
    for t in timings:
        if t.simulation is None:
            continue
        paths = run_paths(output_root, names_for_day(date.fromisoformat(t.day), 1).run_token)
        span = lock_interval(paths.run_state)
        if span is None:
            raise StackError(f"{paths.run_state} records no lock -> unlock interval for {t.day}")
        held.append((t.day, t.lane, span))
    held.sort(key=lambda h: h[2][0])
    return [
        (a[0], b[0]) for i, a in enumerate(held) for b in held[i + 1 :] if a[1] == b[1] and b[2][0] < a[2][1]
    ]


def lane_handoffs(timings: Sequence[RunTiming]) -> list[float]:
    """Per lane, the seconds from one simulation step's end to the next one's start (the lane idle)."""
    by_lane: dict[str | None, list[StepSpan]] = {}
    for t in timings:
        if t.simulation is not None:
            by_lane.setdefault(t.lane, []).append(t.simulation)
    gaps: list[float] = []
    for spans in by_lane.values():
        ordered = sorted(spans, key=lambda s: s.start)
        gaps += [b.start - a.end for a, b in itertools.pairwise(ordered)]
    return gaps


def lanes_file_for(namespaces: Sequence[str], path: Path) -> Path:
    """A lanes file with one lane per runtime namespace (the first one, `torghut`, manages Argo CD)."""
    lanes = [
        # Only the primary runtime is deployed by Argo CD; a second freeze would restore the first's mode.
        {
            "name": "primary" if i == 0 else f"lane{i + 1}",
            "namespace": ns,
            "manage_argocd": i == 0,
            **LANE_OBJECTS,
        }
        for i, ns in enumerate(namespaces)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"lanes": lanes}, indent=2))
    return path


@contextmanager
def extra_runtime(
    kubeconfig: Path, namespace: str, env: Mapping[str, str], log: Path, timeout: float = 60.0
) -> Iterator[str]:
    """A second reference runtime on the local stack: the upstream runtime objects in `namespace` (put
    back as the fixtures have them) and a reference runtime controller watching it, stopped afterwards."""
    with Kube.from_kubeconfig(kubeconfig) as kube:
        load_fixtures(kube.api_client, namespace=namespace)
    heartbeat = log.with_suffix(".heartbeat.json")
    heartbeat.unlink(missing_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "torghut_sim.devstack.refruntime", "--namespace", namespace]
    # Its own /metrics port: the stack's runtime already has the configured one.
    argv += ["--heartbeat", str(heartbeat), "--metrics-port", "0", "--kubeconfig", str(kubeconfig)]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not heartbeat.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"the runtime of {namespace} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield namespace
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


def backfill_created(instance: dg.DagsterInstance, backfill_id: str, timings: Sequence[RunTiming]) -> float:
    """When the backfill was launched (its first run's start if the instance no longer has it)."""
    backfill = instance.get_backfill(backfill_id)
    return backfill.backfill_timestamp if backfill else min(t.start for t in timings)


def launch_to_last_run_end(
    instance: dg.DagsterInstance, backfill_id: str, timings: Sequence[RunTiming]
) -> float:
    """The backfill's wall time: from its creation to the end of its last run."""
    return max(t.end for t in timings) - backfill_created(instance, backfill_id, timings)


def timings_table(timings: Sequence[RunTiming]) -> list[str]:
    """Per day: the run's status, lane, wall time, work, pool wait, overhead and each step's seconds."""
    lines = [
        f"{'day':<12}{'status':<10}{'lane':<9}{'wall':>8}{'work':>8}{'pool':>8}{'overhead':>10}  steps (s)"
    ]
    for t in timings:
        steps = ", ".join(f"{s.key.split('.')[-1]} {s.seconds:.1f}" for s in t.steps)
        figures = f"{t.wall:>8.1f}{t.work:>8.1f}{t.pool_wait:>8.1f}{t.overhead:>10.1f}"
        lines.append(f"{t.day:<12}{t.status:<10}{t.lane or '-':<9}{figures}  {steps}")
    return lines


def latest_materialization(
    instance: dg.DagsterInstance, asset: str, partition: str | None = None
) -> dg.EventLogRecord | None:
    """The latest materialization record of an asset (of one partition, when given)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition is not None else None
        ),
        limit=1,
    ).records
    return records[0] if records else None


def period_keys(days: Sequence[date]) -> dict[str, set[str]]:
    """The weekly (Monday) and monthly (first day) partition keys of the periods that hold `days`."""
    return {
        "weekly_period_report": {(d - timedelta(days=d.weekday())).isoformat() for d in days},
        "monthly_period_report": {d.replace(day=1).isoformat() for d in days},
    }


def periods_owed(timings: Sequence[RunTiming]) -> dict[tuple[str, str], float]:
    """Per period report (asset, partition key) of the runs' days, the end of the last run of its days.

    A week whose days all ended mid-backfill is owed a build after them, not after the backfill's end.
    """
    owed: dict[tuple[str, str], float] = {}
    for timing in timings:
        for asset, (key,) in period_keys([date.fromisoformat(timing.day)]).items():
            owed[(asset, key)] = max(timing.end, owed.get((asset, key), timing.end))
    return owed


def derived_ready(instance: dg.DagsterInstance, timings: Sequence[RunTiming]) -> float | None:
    """When the daemon had built each period report of the runs' days after the last of its days' runs, and
    then the catalog after all of them (epoch seconds); None while something is still owed."""
    built: list[float] = [t.end for t in timings]
    for (asset, key), after in sorted(periods_owed(timings).items()):
        record = latest_materialization(instance, asset, key)
        if record is None or record.timestamp <= after:
            return None
        built.append(record.timestamp)
    catalog = latest_materialization(instance, "simulation_catalog")
    # The catalog must be rebuilt after the period reports too, or its period views are stale.
    if catalog is None or catalog.timestamp <= max(built, default=0.0):
        return None
    return catalog.timestamp
