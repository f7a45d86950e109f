"""state.json round-trips, refuses foreign or corrupt files; the restore marker commands; lock parsing."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from torghut_sim.layout import RunPaths
from torghut_sim.runtime.diff import FieldDifference
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.kube_client import APPLICATION, ObjectRef
from torghut_sim.runtime.lock import parse_lock
from torghut_sim.runtime.model import ObjectCapture, RuntimeState, StateFileError, read_state, write_state
from torghut_sim.runtime.restore import RestoreReport, fix_command, update_marker


def _state() -> RuntimeState:
    return RuntimeState(
        run_id="sim-20260306-01",
        run_token="sim_20260306_01",
        dataset_id="torghut-trades-20260306",
        owner="me@host:1",
        captured_at="2026-03-06T22:00:00Z",
        lock_namespace="torghut",
        objects=[
            ObjectCapture(
                role="ta_configmap",
                namespace="torghut",
                name="cm",
                exists=True,
                spec_sha256="ab",
                fields={"/data/NEW": Captured.absent(), "/data/OLD": Captured.of("v")},
            )
        ],
    )


def test_state_round_trips_with_absent_fields(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_state(path, _state())
    loaded = read_state(path)
    assert loaded == _state()
    assert loaded.require_role("ta_configmap").fields["/data/NEW"] == Captured.absent()
    with pytest.raises(StateFileError):
        loaded.require_role("knative_service")


def test_missing_or_corrupt_state_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StateFileError) as missing:
        read_state(tmp_path / "state.json")
    assert missing.value.reason == "state_file_invalid"
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(StateFileError):
        read_state(tmp_path / "state.json")


def test_fix_commands_set_or_remove_exactly_the_field() -> None:
    ref = ObjectRef(APPLICATION, "argocd", "torghut")
    add = FieldDifference(ref, "/spec/syncPolicy/automated", Captured.of({"prune": True}), Captured.absent())
    cmd = shlex.split(fix_command(add))
    assert cmd[:6] == [
        "kubectl",
        "--namespace",
        "argocd",
        "patch",
        "applications.argoproj.io/torghut",
        "--type=json",
    ]
    assert json.loads(cmd[-1]) == [
        {"op": "add", "path": "/spec/syncPolicy/automated", "value": {"prune": True}}
    ]
    remove = FieldDifference(ref, "/spec/x", Captured.absent(), Captured.of(1))
    assert json.loads(shlex.split(fix_command(remove))[-1]) == [{"op": "remove", "path": "/spec/x"}]


def test_marker_is_written_per_phase_and_removed_once_all_phases_pass(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    ref = ObjectRef(APPLICATION, "argocd", "torghut")
    bad = RestoreReport(differences=[FieldDifference(ref, "/spec/x", Captured.of(1), Captured.of(2))])
    update_marker(paths, _state(), "teardown", bad)
    update_marker(paths, _state(), "argocd_restore", RestoreReport(errors=["boom"]))
    doc = json.loads(paths.restore_required.read_text())
    assert set(doc["phases"]) == {"teardown", "argocd_restore"}
    assert doc["phases"]["teardown"]["commands"][0].startswith("kubectl --namespace argocd patch")
    # Actual values are never written: they may be the simulation DSN.
    assert "actual" not in doc["phases"]["teardown"]["differences"][0]
    update_marker(paths, _state(), "teardown", RestoreReport())
    assert set(json.loads(paths.restore_required.read_text())["phases"]) == {"argocd_restore"}
    update_marker(paths, _state(), "argocd_restore", RestoreReport())
    assert not paths.restore_required.exists()


def test_lock_parsing_treats_bad_times_as_old() -> None:
    info = parse_lock(
        {"metadata": {"resourceVersion": "7"}, "data": {"run_id": "r", "acquired_at": "garbage"}}
    )
    assert info.run_id == "r" and info.acquired_at.year == 1970 and info.resource_version == "7"
