"""A `dg launch` killed with SIGKILL mid-simulation is restored by the stale-lock sensor, with no human;
one interrupted with Ctrl-C again and again restores everything before it stops.

Nothing watches a `dg launch` run: its Dagster run stays STARTED and no failure event is ever written. The
dead process stops renewing the lock's heartbeat; once its lease has passed, the sensor marks the run failed,
frees its pool slot and requests the cleanup job, which restores the runtime and Argo CD and unlocks.
Uses the end-to-end module's fixtures (its own Dagster database, the reference runtime of `torghut`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import date

import dagster as dg
import pytest

from sensors.cleanup import CLEANUP_JOB, FAILED_RUN_TAG, RUN_DIR_TAG
from sensors.stale_lock import STALE_LOCK_SENSOR
from tests.integration import _e2e as e2e
from tests.integration.test_e2e_pipeline import (  # noqa: F401 - fixtures of the end-to-end module
    Pipeline,
    pipeline,
    session,
)
from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.process import read_pid
from torghut_sim.devstack.service import Service
from torghut_sim.runtime.lock import read_lock
from torghut_sim.runtime.run_secret import RUN_SECRET_NAME, secret_ref

pytestmark = pytest.mark.timeout(1800)

# A trading day no other test seeds.
CRASHED_DAY = date(2026, 5, 14)
LEASE_SECONDS = 20


def _on_this_stack(env: dict[str, str], config: StackConfig) -> None:
    """Point the day template's connections at this stack's ports (the template names the defaults)."""
    host, ports = config.host, config.ports
    env["TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS"] = f"{host}:{ports.kafka}"
    env["TORGHUT_SIM_CLICKHOUSE_HTTP_URL"] = f"http://{host}:{ports.clickhouse}"
    env["TORGHUT_SIM_POSTGRES_ADMIN_DSN"] = f"postgresql://postgres@{host}:{ports.postgres}/postgres"
    env["TORGHUT_SIM_POSTGRES_SIMULATION_DSN_TEMPLATE"] = (
        f"postgresql://postgres@{host}:{ports.postgres}/{{db}}"
    )


@contextlib.contextmanager
def _runtime_paused(runtime_service: Service) -> Iterator[None]:
    """Freeze the reference runtime's process, so the run under test cannot finish its day meanwhile.

    On a quiet machine the small day is simulated in seconds, less than the lease this test waits
    through; a frozen runtime keeps the run in its monitor for as long as the test needs it alive.
    """
    pid = read_pid(runtime_service.pid_file)
    assert pid is not None, "the reference runtime is not running"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_killed_dg_launch_is_restored_by_the_stale_lock_sensor(
    pipeline: Pipeline,  # noqa: F811 - the imported fixture
    stack_config: StackConfig,
    runtime_service: Service,
) -> None:
    _on_this_stack(pipeline.env, stack_config)
    pipeline.env["TORGHUT_SIM_LOCK_LEASE_SECONDS"] = str(LEASE_SECONDS)
    run_dir = pipeline.prepare(CRASHED_DAY)
    before = pipeline.baseline()
    defs = pipeline.definitions()
    sensor = defs.resolve_sensor_def(STALE_LOCK_SENSOR)
    launch = pipeline.launch_day(CRASHED_DAY)
    with e2e.restore_if_left_patched(launch, pipeline.session.kubeconfig, run_dir.paths):
        e2e.wait_replay_started(launch, run_dir, "simulation", every=0.1)
        with _runtime_paused(runtime_service):
            run = e2e.only_run_of_day(pipeline.instance, run_dir.key)
            holder = read_lock(pipeline.kube, e2e.NAMESPACE)
            assert holder is not None and holder.owner == f"dagster:{run.run_id}"
            assert holder.lease_seconds == LEASE_SECONDS and holder.run_dir == str(run_dir.paths.root)
            # The runtime reads its DSN from the run's Secret: the Service (so etcd's copy) never holds it.
            service = pipeline.kube.require(e2e.RUNTIME_OBJECTS["knative_service"])
            env = {e["name"]: e for e in service["spec"]["template"]["spec"]["containers"][0]["env"]}
            assert env["DB_DSN"]["valueFrom"]["secretKeyRef"]["name"] == RUN_SECRET_NAME
            assert f":{pipeline.env['TORGHUT_DEVSTACK_POSTGRES_PASSWORD']}@" not in json.dumps(service)
            assert pipeline.kube.get(secret_ref(e2e.NAMESPACE, RUN_SECRET_NAME)) is not None

            # While the run lives, its heartbeat keeps it alive through a whole lease.
            alive = sensor.evaluate_tick(pipeline.sensor_context(defs))
            time.sleep(LEASE_SECONDS + 2)
            alive = sensor.evaluate_tick(pipeline.sensor_context(defs, alive.cursor))
            assert not alive.run_requests, alive.skip_message
            assert "alive" in (alive.skip_message or "")

            launch.kill()
            assert e2e.knative_env(pipeline.kube).get("TRADING_SIMULATION_ENABLED") == "true"
            assert read_lock(pipeline.kube, e2e.NAMESPACE) is not None
            killed = pipeline.instance.get_run_by_id(run.run_id)
            assert killed is not None and killed.status == dg.DagsterRunStatus.STARTED
        # Resumed: the cleanup waits for the restored revision to be ready, which the runtime reports.

        tick = sensor.evaluate_tick(pipeline.sensor_context(defs, alive.cursor))
        assert not tick.run_requests, "a holder was called dead before its lease passed"
        time.sleep(LEASE_SECONDS + 2)
        tick = sensor.evaluate_tick(pipeline.sensor_context(defs, tick.cursor))
        requests = list(tick.run_requests or [])
        assert len(requests) == 1, tick.skip_message
        request = requests[0]
        assert request.tags[FAILED_RUN_TAG] == run.run_id
        assert request.tags[RUN_DIR_TAG] == str(run_dir.paths.root)

        # The dead run shows as failed, and its runtime-pool slot is free for the cleanup op.
        dead = pipeline.instance.get_run_by_id(run.run_id)
        assert dead is not None and dead.status == dg.DagsterRunStatus.FAILURE
        pool = pipeline.instance.event_log_storage.get_concurrency_info("torghut_runtime_default")
        assert run.run_id not in pool.active_run_ids

        cleanup = defs.resolve_job_def(CLEANUP_JOB).execute_in_process(
            run_config=request.run_config, instance=pipeline.instance, tags=request.tags
        )
        assert cleanup.success
        assert cleanup.output_for_node("restore_runtime_from_state") == "torn_down"

    e2e.assert_runtime_matches(pipeline.kube, before)
    assert read_lock(pipeline.kube, e2e.NAMESPACE) is None
    assert pipeline.kube.get(secret_ref(e2e.NAMESPACE, RUN_SECRET_NAME)) is None
    state = run_dir.run_state()
    assert state["status"] == "torn_down"
    # No second cleanup for the same dead holder.
    again = sensor.evaluate_tick(pipeline.sensor_context(defs, tick.cursor))
    assert not again.run_requests


INTERRUPTED_DAY = date(2026, 5, 15)


def test_repeated_ctrl_c_of_dg_launch_never_cuts_the_restore(
    pipeline: Pipeline,  # noqa: F811 - the imported fixture
    stack_config: StackConfig,
) -> None:
    _on_this_stack(pipeline.env, stack_config)
    run_dir = pipeline.prepare(INTERRUPTED_DAY)
    before = pipeline.baseline()
    launch = pipeline.launch_day(INTERRUPTED_DAY)
    with e2e.restore_if_left_patched(launch, pipeline.session.kubeconfig, run_dir.paths):
        e2e.wait_replay_started(launch, run_dir, "simulation", every=0.1)
        # Ctrl-C at a terminal signals the whole foreground group: `dg launch` and its step process.
        # Keep pressing it until the run's outcome is recorded, so presses land inside the restore.
        pgid = launch.proc.pid
        os.killpg(pgid, signal.SIGINT)
        deadline = time.monotonic() + 600
        while run_dir.run_state().get("status") == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGINT)
        launch.wait(timeout=600)

    state = run_dir.run_state()
    assert state["status"] == "interrupted", state["transitions"][-3:]
    done = {(t["phase"], t["status"]) for t in state["transitions"]}
    assert {("teardown", "succeeded"), ("argocd_restore", "succeeded"), ("unlock", "succeeded")} <= done
    # Presses did land inside the restore, and waited for it.
    deferred = [t for t in state["transitions"] if t["status"] == "signals_deferred"]
    assert deferred and set(deferred[0]["details"]["signals"]) == {"SIGINT"}
    e2e.assert_runtime_matches(pipeline.kube, before)
    assert read_lock(pipeline.kube, e2e.NAMESPACE) is None
    assert pipeline.kube.get(secret_ref(e2e.NAMESPACE, RUN_SECRET_NAME)) is None
