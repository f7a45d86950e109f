"""The run directory's evidence: who captured the runtime, whether it is restored, what the run reached."""

from __future__ import annotations

from pathlib import Path

from torghut_sim.atomic_file import write_json_atomic
from torghut_sim.layout import RunPaths
from torghut_sim.run_evidence import RunEvidence, dagster_owner, dagster_run_of


def test_a_dagster_owner_round_trips_and_other_owners_name_no_run() -> None:
    assert dagster_run_of(dagster_owner("abc-123")) == "abc-123"
    assert dagster_run_of("alice@host:42") is None


def test_a_run_that_never_started_is_restored_with_nothing_captured(tmp_path: Path) -> None:
    evidence = RunEvidence.read(RunPaths(tmp_path / "run"))
    assert (evidence.status, evidence.owner, evidence.contamination) == (None, None, None)
    assert evidence.restore.restored and evidence.restore.reason == "nothing_captured"
    assert not evidence.unfinished and not evidence.held_by_dagster_run("abc")


def test_a_live_capture_is_owned_unrestored_and_unfinished(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "run")
    write_json_atomic(paths.state, {"owner": dagster_owner("run-1")})
    write_json_atomic(paths.run_state, {"status": "running", "transitions": []})
    evidence = RunEvidence.read(paths)
    assert evidence.held_by_dagster_run("run-1") and not evidence.held_by_dagster_run("run-2")
    assert not evidence.restore.restored and evidence.unfinished


def test_a_retired_capture_still_names_its_owner_once_restored(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "run")
    write_json_atomic(paths.state_restored, {"owner": dagster_owner("run-1")})
    write_json_atomic(paths.run_state, {"status": "succeeded", "transitions": []})
    write_json_atomic(paths.contamination, {"status": "clean"})
    evidence = RunEvidence.read(paths)
    assert evidence.owner == "dagster:run-1" and evidence.restore.reason == "restored"
    assert (evidence.status, evidence.contamination, evidence.unfinished) == ("succeeded", "clean", False)
