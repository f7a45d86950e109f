"""The stale-lock sensor's decisions on a real (ephemeral) Dagster instance: alive, dead, already cleaned."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from resources import SimulationConfigResource
from sensors.cleanup import CLEANUP_JOB, CLEANUP_OP, FAILED_RUN_TAG, RUN_DIR_TAG
from sensors.stale_lock import evaluate
from torghut_sim.layout import RunPaths
from torghut_sim.runtime.lock import LockInfo, parse_lock
from torghut_sim.runtime.restore_status import restore_required, restore_state

T0 = 1_000_000.0
TOKEN = "sim_20260306_01"


def _config(tmp_path: Path) -> SimulationConfigResource:
    return SimulationConfigResource(template_path="unused.yaml", output_root=str(tmp_path))


def _run_dir(tmp_path: Path) -> RunPaths:
    paths = RunPaths(tmp_path / TOKEN)
    paths.root.mkdir(parents=True)
    paths.run_state.write_text(json.dumps({"run_id": "sim-20260306-01", "status": "running"}))
    return paths


def _holder(owner: str, run_dir: Path, version: str = "5") -> LockInfo:
    data = {
        "run_id": "sim-20260306-01",
        "run_token": TOKEN,
        "owner": owner,
        "acquired_at": "2026-03-06T14:00:00Z",
        "heartbeat_at": "2026-03-06T14:00:00Z",
        "lease_seconds": "60",
        "run_dir": str(run_dir),
    }
    return parse_lock({"metadata": {"resourceVersion": version}, "data": data})


def _started_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    @dg.op
    def noop() -> None:
        return None

    @dg.job
    def day() -> None:
        noop()

    run = instance.create_run_for_job(day)
    # What a step worker's start writes: the run shows STARTED, as a `dg launch` run does while it lives.
    start = dg.DagsterEvent(
        event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name, message="started"
    )
    instance.handle_run_event(run.run_id, start)
    started = instance.get_run_by_id(run.run_id)
    assert started is not None and started.status == dg.DagsterRunStatus.STARTED
    return started


def test_a_live_holder_is_left_alone_and_a_silent_one_is_cleaned_once(tmp_path: Path) -> None:
    paths = _run_dir(tmp_path)
    config = _config(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        run = _started_run(instance)
        holder = _holder(f"dagster:{run.run_id}", paths.root)
        requests, notes, seen = evaluate(instance, {"torghut": holder}, {}, config, T0)
        assert not requests and "alive" in notes[0]
        requests, notes, seen = evaluate(instance, {"torghut": holder}, seen, config, T0 + 61)
        assert len(requests) == 1, notes
        request = requests[0]
        assert request.tags[FAILED_RUN_TAG] == run.run_id and request.tags[RUN_DIR_TAG] == str(paths.root)
        assert request.run_config["ops"][CLEANUP_OP]["config"]["lock_owner"] == holder.owner
        # The dead run that still showed STARTED is failed, so the UI shows it.
        failed = instance.get_run_by_id(run.run_id)
        assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
        # Once its cleanup run exists, the same dead holder asks for nothing more.
        instance.create_run_for_job(_cleanup_stand_in(), tags=request.tags)
        again, notes, _ = evaluate(instance, {"torghut": holder}, seen, config, T0 + 120)
        assert not again and "already launched" in notes[0]


def test_a_finished_owner_run_is_dead_without_waiting(tmp_path: Path) -> None:
    paths = _run_dir(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        run = _started_run(instance)
        instance.report_run_failed(run)
        holder = _holder(f"dagster:{run.run_id}", paths.root)
        requests, notes, _ = evaluate(instance, {"torghut": holder}, {}, _config(tmp_path), T0)
        assert len(requests) == 1 and "owner_run_finished" in notes[-1]


def test_a_holder_whose_run_directory_is_elsewhere_is_reported_not_guessed(tmp_path: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        holder = _holder("alice@laptop:42", tmp_path / "elsewhere")
        seen = {"torghut": {"run_id": holder.run_id, "version": "5", "since": T0}}
        requests, notes, _ = evaluate(instance, {"torghut": holder}, seen, _config(tmp_path), T0 + 61)
        assert not requests and "torghut-sim teardown" in notes[0]


def test_a_free_runtime_asks_nothing(tmp_path: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        requests, notes, seen = evaluate(instance, {"torghut": None}, {}, _config(tmp_path), T0)
    assert (requests, notes, seen) == ([], ["torghut: free"], {})


def _cleanup_stand_in() -> dg.JobDefinition:
    @dg.op(name=CLEANUP_OP)
    def restore() -> None:
        return None

    @dg.job(name=CLEANUP_JOB)
    def cleanup() -> None:
        restore()

    return cleanup


def test_every_surface_reads_restore_required_from_the_marker_or_run_state(tmp_path: Path) -> None:
    paths = _run_dir(tmp_path)
    assert not restore_required(paths) and restore_state(paths).restored
    paths.run_state.write_text(json.dumps({"status": "restore_required"}))
    assert restore_required(paths) and restore_state(paths).reason == "restore_required"
    paths.run_state.write_text(json.dumps({"status": "manual_cleanup_required"}))
    assert restore_required(paths) and not restore_state(paths).restored
    paths.run_state.write_text(json.dumps({"status": "torn_down"}))
    paths.restore_required.write_text("{}")
    assert restore_required(paths) and not restore_state(paths).restored
