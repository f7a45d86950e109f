"""Runs as pods: the webserver launches, the daemon's K8sRunLauncher starts a Job on the node, the run pod
executes the asset from the project image as the pipeline's service account, and the UI reads its logs. A
day launched in the webserver and a two-day backfill (the UI's `launchPartitionBackfill`) run as pods and
reach PASS one simulation at a time; a run pod killed mid-simulation is cleaned up like a crash.

The code location itself runs as a pod from the image (the production shape); the webserver and daemon run
on the host with the instance `torghut_sim.devstack.pod_runs` renders.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import psycopg
import pytest

from assets import DAY_ASSETS
from benchmarks import backfill_stack as bf
from tests.deploy_render import render
from tests.integration._graphql import LAUNCH_RUN, RUN_STATUS, graphql
from tests.integration._tcp_proxy import free_port
from torghut_sim.devstack.baseline import ensure_baseline
from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.host_env import host_pipeline_env
from torghut_sim.devstack.node import NodeService
from torghut_sim.devstack.node_servers import NODE_NAME
from torghut_sim.devstack.pod_runs import (
    CODE_LOCATION,
    LOCATION_NAME,
    PIPELINE_NAMESPACE,
    RUN_RESOURCES,
    SERVICE_ACCOUNT,
    PodRunSettings,
    apply_objects,
    cluster_objects,
    write_host_home,
)
from torghut_sim.devstack.postgres import PASSWORD, PostgresService
from torghut_sim.devstack.process import port_open
from torghut_sim.devstack.registry import service
from torghut_sim.devstack.service import Service
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import read_lock
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint

if TYPE_CHECKING:
    from tests.integration._e2e import DayDir

pytestmark = pytest.mark.node

DAY = "2026-03-06"
STARTUP_TIMEOUT = 300.0
RUN_TIMEOUT = 600.0
CAPTURED = "query Captured($key: [String!]!) { capturedLogs(logKey: $key) { stdout stderr } }"
RUN_EVENTS = """
query Events($id: ID!) {
  logsForRun(runId: $id) {
    __typename ... on EventConnection {
      events { __typename ... on MessageEvent { message } ... on LogsCapturedEvent { fileKey } }
    }
  }
}
"""
LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message }
      ... on RepositoryLocation { repositories { name } } } } } } }
"""


@dataclass(frozen=True)
class PodStack:
    """The webserver's URL, the repository name, the shared directories and the host processes' logs."""

    base_url: str
    repository: str
    settings: PodRunSettings
    logs: Path
    env: dict[str, str]

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.base_url, query, dict(variables or {}))

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)


def _wait(what: str, check: Any, timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached after {timeout:.0f}s")
        time.sleep(every)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def pod_stack(
    node: NodeService, postgres_service: Service, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PodStack]:
    """deploy/k8s + the code location pod + the host webserver and daemon on a fresh Dagster database."""
    assert isinstance(postgres_service, PostgresService)
    root = tmp_path_factory.mktemp("pod_runs")
    db = f"dagster_pods_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_service.dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    ports = node.config.ports
    settings = PodRunSettings(
        kube_server=node.kube.server_url,
        postgres_port=ports.postgres,
        kafka_bootstrap=f"127.0.0.1:{ports.kafka}",
        clickhouse_url=f"http://127.0.0.1:{ports.clickhouse}",
        dagster_db=db,
        output_root=root / "simulations",
        compute_logs=root / "compute-logs",
        grpc_port=free_port(),
    )
    passwords = {
        "DAGSTER_PG_PASSWORD": PASSWORD,
        "TORGHUT_DEVSTACK_POSTGRES_PASSWORD": PASSWORD,
        "TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD": os.environ.get(
            "TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD", "devstack"
        ),
    }
    objects = cluster_objects(settings, list(render.render(render.DEFAULT_NAMESPACES)), passwords)
    with node.kube.api_client() as api:
        apply_objects(api, objects)
    home = root / "dagster_home"
    write_host_home(home, settings, node.kube.kubeconfig_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORGHUT_SIM_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_PG_HOST="127.0.0.1",
        DAGSTER_PG_PORT=str(ports.postgres),
        DAGSTER_PG_DB=db,
        DAGSTER_PG_USERNAME="postgres",
        DAGSTER_PG_PASSWORD=PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    bin_dir = Path(sys.executable).parent
    port = free_port()
    workspace = str(home / "workspace.yaml")
    procs: list[subprocess.Popen[bytes]] = []
    logs = root / "logs"
    logs.mkdir()
    stack = PodStack(f"http://127.0.0.1:{port}", "", settings, logs, env)
    try:
        _wait(
            "the code location pod serving gRPC",
            lambda: port_open("127.0.0.1", settings.grpc_port),
            STARTUP_TIMEOUT,
        )
        for name, argv in (  # both load the same workspace: the code location pod
            (
                "webserver",
                [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)],
            ),
            ("daemon", [str(bin_dir / "dagster-daemon"), "run"]),
        ):
            with (logs / f"{name}.log").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [*argv, "-w", workspace],
                        env=env,
                        cwd=home,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

        def repository() -> str | None:
            try:
                data = stack.graphql(LOCATIONS)
            except (urllib.error.URLError, OSError):
                return None
            for entry in data["workspaceOrError"].get("locationEntries", []):
                loaded = entry.get("locationOrLoadError") or {}
                for repo in loaded.get("repositories", []):
                    return str(repo["name"])
            return None

        name = _wait("the webserver serving the code location", repository, STARTUP_TIMEOUT)
        yield PodStack(stack.base_url, name, settings, logs, env)
    finally:
        for proc in procs:
            _stop(proc)
        with node.kube.api_client() as api:
            from kubernetes import client

            client.AppsV1Api(api).delete_namespaced_deployment(CODE_LOCATION, PIPELINE_NAMESPACE)
            client.BatchV1Api(api).delete_collection_namespaced_job(
                PIPELINE_NAMESPACE,
                label_selector="app.kubernetes.io/component=run-worker",
                propagation_policy="Background",
            )


def _launch(stack: PodStack, assets: list[str], partition: str = DAY) -> str:
    params = {
        "selector": {
            "repositoryLocationName": LOCATION_NAME,
            "repositoryName": stack.repository,
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": [a]} for a in assets],
        },
        # No run config: the project's executor already runs a day's steps in the run pod's one process.
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
    }
    launched = stack.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return str(launched["run"]["runId"])


def _final_status(stack: PodStack, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
    def done() -> str | None:
        status = stack.graphql(RUN_STATUS, {"id": run_id})["runOrError"].get("status")
        return status if status in {"SUCCESS", "FAILURE", "CANCELED"} else None

    try:
        return str(_wait(f"run {run_id} finished", done, timeout, every=3))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.log_tail()}") from exc


def _finished_run_pod(node: NodeService, run_id: str) -> Any:
    """The one pod of the run's one Job on the node, once its process has exited (from the API server)."""
    from kubernetes import client

    selector = f"dagster/run-id={run_id}"
    with node.kube.api_client() as api:
        jobs = client.BatchV1Api(api).list_namespaced_job(PIPELINE_NAMESPACE, label_selector=selector).items
        assert [j.metadata.name for j in jobs] == [f"dagster-run-{run_id}"]
        core = client.CoreV1Api(api)

        def finished_pods() -> list[Any] | None:
            # The run is SUCCESS once its last event is stored; the pod's process exits just after.
            pods = core.list_namespaced_pod(PIPELINE_NAMESPACE, label_selector=selector).items
            return pods if pods and all(p.status.phase in {"Succeeded", "Failed"} for p in pods) else None

        pods = _wait("the run pod finished", finished_pods, 120)
    assert len(pods) == 1, [p.metadata.name for p in pods]
    return pods[0]


def test_a_run_launched_in_the_webserver_runs_as_a_job_on_the_node(
    pod_stack: PodStack, node: NodeService
) -> None:
    run_id = _launch(pod_stack, ["simulation_manifest"])
    status = _final_status(pod_stack, run_id)
    assert status == "SUCCESS", pod_stack.log_tail()
    pod = _finished_run_pod(node, run_id)
    assert pod.spec.node_name == NODE_NAME
    assert pod.spec.service_account_name == SERVICE_ACCOUNT
    assert pod.spec.host_network is True
    container = pod.spec.containers[0]
    assert container.image_pull_policy == "Never"
    assert container.resources.requests == RUN_RESOURCES["requests"]
    assert container.resources.limits == RUN_RESOURCES["limits"]
    assert pod.status.phase == "Succeeded"
    # The UI's run log: the step's events, written by the pod into the shared storage.
    events = pod_stack.graphql(RUN_EVENTS, {"id": run_id})["logsForRun"]["events"]
    kinds = {e["__typename"] for e in events}
    assert {"RunStartEvent", "ExecutionStepSuccessEvent", "RunSuccessEvent"} <= kinds
    # The run's manifest, written by the pod into the output root the host shares with it.
    manifests = list(pod_stack.settings.output_root.rglob("manifest.yaml"))
    assert manifests, list(pod_stack.settings.output_root.rglob("*"))
    messages = " ".join(e.get("message") or "" for e in events)
    assert "Materialized value simulation_manifest." in messages
    assert "Asset check 'full_day_window' on 'simulation_manifest' passed." in messages
    # The step's stdout/stderr as captured in the pod, read back through the webserver's log viewer query.
    file_keys = [e["fileKey"] for e in events if e.get("fileKey")]
    assert file_keys
    captured = pod_stack.graphql(CAPTURED, {"key": [run_id, "compute_logs", file_keys[0]]})["capturedLogs"]
    assert set(captured) == {"stdout", "stderr"}
    assert (pod_stack.settings.compute_logs / run_id / "compute_logs" / f"{file_keys[0]}.complete").exists()


def _runtime_ready(
    pod_stack: PodStack, node: NodeService, stack_config: StackConfig, tmp_path: Path
) -> dict[str, str]:
    """The runtime started at its baseline; the host's pipeline env (for seeding and cleaning stores)."""
    service("runtime", stack_config).start()
    ensure_baseline(stack_config)
    settings = pod_stack.settings
    return host_pipeline_env(
        tmp_path / "unused_home", settings.dagster_db, settings.output_root, node.kube.kubeconfig_path
    )


def _seeded_day(
    day: date, pod_stack: PodStack, node: NodeService, stack_config: StackConfig, tmp_path: Path
) -> tuple[dict[str, str], DayDir]:
    """The runtime started at its baseline and `day` seeded: (the host's pipeline env, the day's run dir)."""
    from tests.integration import _e2e as e2e

    env = _runtime_ready(pod_stack, node, stack_config, tmp_path)
    _seed(day, env, tmp_path)
    return env, e2e.day_dir(pod_stack.settings.output_root, day)


POD_DAY = date(2026, 5, 12)


def _seed(day: date, env: dict[str, str], log_dir: Path) -> None:
    """`devstack seed-day`, again after a pause when a freshly started broker is still electing leaders."""
    from tests.integration import _e2e as e2e

    for attempt in range(3):
        try:
            e2e.seed(day, env, log_dir)
        except AssertionError:
            if attempt == 2:
                raise
            time.sleep(10)
        else:
            return


def test_a_day_launched_in_the_webserver_runs_as_a_pod_reaches_pass_and_restores_the_runtime(
    pod_stack: PodStack,
    node: NodeService,
    stack_config: StackConfig,
    kafka_service: Service,
    clickhouse_service: Service,
    postgres_service: Service,
    tmp_path: Path,
) -> None:
    from tests.integration import _e2e as e2e

    assert isinstance(postgres_service, PostgresService)
    env, run_dir = _seeded_day(POD_DAY, pod_stack, node, stack_config, tmp_path)
    kubeconfig = node.kube.kubeconfig_path
    settings = pod_stack.settings
    stores = e2e.Stores(
        clickhouse=ClickHouseEndpoint(
            settings.clickhouse_url, "torghut", env["TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD"]
        ),
        postgres_admin_dsn=postgres_service.dsn(),
        kafka_config={"bootstrap.servers": settings.kafka_bootstrap},
    )
    stores.drop(run_dir.names.run_token)
    with Kube.from_kubeconfig(kubeconfig) as kube:
        e2e.wait_lock_free(kube)
        before = e2e.runtime_objects(kube)
        run_id = _launch(pod_stack, list(DAY_ASSETS), POD_DAY.isoformat())
        status = _final_status(pod_stack, run_id, timeout=e2e.LAUNCH_TIMEOUT)
        assert status == "SUCCESS", pod_stack.log_tail()
        report = run_dir.report()
        assert report["verdict"]["status"] == "PASS", report["verdict"]
        assert run_dir.run_state()["status"] == "succeeded"
        e2e.assert_runtime_matches(kube, before)
        assert read_lock(kube, e2e.NAMESPACE) is None


CRASH_DAY = date(2026, 5, 13)


def test_deleting_the_run_pod_mid_simulation_is_cleaned_up_like_a_crash(
    pod_stack: PodStack,
    node: NodeService,
    stack_config: StackConfig,
    kafka_service: Service,
    clickhouse_service: Service,
    postgres_service: Service,
    tmp_path: Path,
) -> None:
    from kubernetes import client

    from tests.integration import _e2e as e2e

    assert isinstance(postgres_service, PostgresService)
    _env, run_dir = _seeded_day(CRASH_DAY, pod_stack, node, stack_config, tmp_path)
    kubeconfig = node.kube.kubeconfig_path
    with Kube.from_kubeconfig(kubeconfig) as kube:
        e2e.wait_lock_free(kube)
        before = e2e.runtime_objects(kube)
        run_id = _launch(pod_stack, list(DAY_ASSETS), CRASH_DAY.isoformat())
        e2e.wait_for(
            f"the replay of {run_dir.key} to start",
            lambda: run_dir.phase_started("replay", "monitor"),
            timeout=e2e.LAUNCH_TIMEOUT,
            every=0.5,
        )
        with node.kube.api_client() as api:
            core = client.CoreV1Api(api)
            selector = f"dagster/run-id={run_id}"
            for pod in core.list_namespaced_pod(PIPELINE_NAMESPACE, label_selector=selector).items:
                # A hard crash first (as the OOM killer or a lost node would: no chance to restore), then
                # the pod is deleted, as an operator cleaning up would.
                container_id = pod.status.container_statuses[0].container_id.removeprefix("containerd://")
                node.containerd.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", container_id)
                core.delete_namespaced_pod(pod.metadata.name, PIPELINE_NAMESPACE, grace_period_seconds=0)
        # The dead run left the runtime patched and locked.
        holder = read_lock(kube, e2e.NAMESPACE)
        assert holder is not None and holder.run_id == run_dir.names.run_id
        # Run monitoring fails the run; the failure sensor's cleanup run (another pod) restores the runtime.
        assert _final_status(pod_stack, run_id) == "FAILURE"
        e2e.wait_lock_free(kube)
        e2e.wait_for(
            "the runtime restored",
            lambda: e2e.runtime_objects(kube) == before or None,
            timeout=RUN_TIMEOUT,
        )
        e2e.assert_runtime_matches(kube, before)
        state = run_dir.run_state()
        assert state["status"] == "torn_down", state["status"]
        commands = [t["details"].get("command") for t in state["transitions"]]
        assert "dagster_cleanup" in commands


# Trading days only this test uses; both are simulated, so the lane is contended by two run pods.
POD_BACKFILL_DAYS = (date(2026, 6, 8), date(2026, 6, 9))


def test_a_backfill_launched_in_the_webserver_runs_each_day_as_a_pod_one_simulation_at_a_time(
    pod_stack: PodStack,
    node: NodeService,
    stack_config: StackConfig,
    kafka_service: Service,
    clickhouse_service: Service,
    postgres_service: Service,
    tmp_path: Path,
) -> None:
    from tests.integration import _e2e as e2e

    assert isinstance(postgres_service, PostgresService)
    env = _runtime_ready(pod_stack, node, stack_config, tmp_path)
    bf.prepare_days(
        POD_BACKFILL_DAYS, (), env, admin_dsn=postgres_service.dsn(), symbols=e2e.SEED_SYMBOLS, logs=tmp_path
    )
    with (
        Kube.from_kubeconfig(node.kube.kubeconfig_path) as kube,
        e2e.instance_env(pod_stack.env),
        dg.DagsterInstance.get() as instance,
    ):
        e2e.wait_lock_free(kube)
        before = e2e.runtime_objects(kube)

        began = time.monotonic()
        backfill_id = bf.launch_backfill(pod_stack, POD_BACKFILL_DAYS)
        status, seen = bf.wait_backfill(pod_stack, backfill_id, e2e.LAUNCH_TIMEOUT)

        timings = bf.backfill_timings(instance, backfill_id)
        runs = [(t.day, t.status) for t in timings]
        assert status == "COMPLETED_SUCCESS", (runs, pod_stack.log_tail())
        assert runs == [(d.isoformat(), "SUCCESS") for d in POD_BACKFILL_DAYS]
        # Each day's run executed as its own Job's pod on the node, from the project image.
        for timing in timings:
            pod = _finished_run_pod(node, timing.run_id)
            assert pod.metadata.name.startswith(f"dagster-run-{timing.run_id}")
            assert pod.metadata.labels["dagster/run-id"] == timing.run_id
            assert pod.metadata.labels["dagster/code-location"] == LOCATION_NAME
            assert pod.metadata.labels["app.kubernetes.io/component"] == "run-worker"
            assert pod.spec.node_name == NODE_NAME
            assert pod.spec.service_account_name == SERVICE_ACCOUNT
            assert pod.spec.containers[0].image == pod_stack.settings.image
            assert pod.status.phase == "Succeeded"
            run = instance.get_run_by_id(timing.run_id)
            assert run is not None and run.tags["dagster/backfill"] == backfill_id
        for day in POD_BACKFILL_DAYS:
            run_dir = e2e.day_dir(pod_stack.settings.output_root, day)
            assert run_dir.report()["verdict"]["status"] == "PASS", (day, run_dir.report()["verdict"])
            assert run_dir.run_state()["status"] == "succeeded"
        # One lane across two pods: the simulation steps (event log) and the lock intervals never overlap.
        assert all(t.simulation is not None for t in timings), [[s.key for s in t.steps] for t in timings]
        assert bf.lane_overlaps(timings) == []
        first, second = sorted(
            (e2e.day_dir(pod_stack.settings.output_root, d).lock_interval() for d in POD_BACKFILL_DAYS),
            key=lambda span: span[0],
        )
        assert first[1] < second[0], f"lock intervals intersect: {first} and {second}"
        e2e.assert_runtime_matches(kube, before)
        assert read_lock(kube, e2e.NAMESPACE) is None
        # The figures for deploy/README.md's measured section (shown with `pytest -rP`), as the bench prints
        # them for the same days in-process (`benchmarks/backfill_bench.py --days 2 --empty 0 --start …`).
        wall = bf.launch_to_last_run_end(instance, backfill_id, timings)
        floor = bf.backfill_floor(timings).total
        waited = seen - began
        print("\n".join(bf.timings_table(timings)))
        print(
            f"floor {floor:.1f}s; backfill wall (launch -> last run ended) {wall:.1f}s ({wall / floor:.2f})"
        )
        print(f"backfill wall (launch -> {status} seen) {waited:.1f}s ({waited / floor:.2f})")
