"""SIGINT and SIGTERM wait while a restore runs: two Ctrl-Cs inside the teardown do not cut it short."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from torghut_sim.runtime.signals import restore_shield
from torghut_sim.runtime.state_machine import CLEANUP_PHASES, PHASES, Phases, RunStateLog, run_phases


def _phases(calls: list[str], during: str, signals: list[signal.Signals]) -> Phases:
    def phase(name: str) -> Any:
        def run() -> Mapping[str, Any]:
            calls.append(name)
            if name == during:
                for sig in signals:
                    os.kill(os.getpid(), sig)
                calls.append(f"{name}:finished")
            return {}

        return run

    return Phases(**{name: phase(name) for name in PHASES})


def test_two_sigints_during_the_teardown_wait_until_every_restore_is_done(tmp_path: Path) -> None:
    calls: list[str] = []
    log = RunStateLog(tmp_path / "run-state.json", "r")
    phases = _phases(calls, "teardown", [signal.SIGINT, signal.SIGINT])
    with pytest.raises(KeyboardInterrupt):
        run_phases(phases, log)
    # The teardown went on past both signals, and the Argo restore and unlock still ran.
    assert calls[-4:] == ["teardown", "teardown:finished", "argocd_restore", "unlock"]
    doc = json.loads((tmp_path / "run-state.json").read_text())
    done = {(t["phase"], t["status"]) for t in doc["transitions"]}
    assert {(p, "succeeded") for p in CLEANUP_PHASES} <= done
    deferred = [t for t in doc["transitions"] if t["status"] == "signals_deferred"]
    assert deferred and deferred[0]["details"]["signals"] == ["SIGINT", "SIGINT"]
    # The interrupt is handled after the restore, once: the run's outcome is recorded first.
    assert doc["status"] == "succeeded"


def test_an_interrupted_run_is_not_interrupted_again_by_a_ctrl_c_in_its_restore(tmp_path: Path) -> None:
    calls: list[str] = []
    log = RunStateLog(tmp_path / "run-state.json", "r")
    phases = _phases(calls, "argocd_restore", [signal.SIGINT, signal.SIGTERM])

    def replay() -> Mapping[str, Any]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_phases(Phases(**{**{n: phases.get(n) for n in PHASES}, "replay": replay}), log)
    assert calls[-3:] == ["argocd_restore", "argocd_restore:finished", "unlock"]
    doc = json.loads((tmp_path / "run-state.json").read_text())
    assert doc["status"] == "interrupted"
    assert doc["transitions"][-1]["details"]["deferred_signals"] == ["SIGINT", "SIGTERM"]


def test_the_shield_restores_the_previous_handlers_and_delivers_each_signal_once() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
    try:
        with restore_shield() as deferred:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            assert seen == []
        assert deferred.names == ["SIGTERM", "SIGTERM"]
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_ignored_sigint_stays_ignored_during_a_run(tmp_path: Path) -> None:
    calls: list[str] = []
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        log = RunStateLog(tmp_path / "rs.json", "r")
        outcome = run_phases(_phases(calls, "replay", [signal.SIGINT]), log)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert outcome.status == "succeeded" and "replay:finished" in calls


class OrchestratorInterrupt(BaseException):
    """What an orchestrator raises in a step it stops (Dagster's is a BaseException, not an Exception)."""


def test_an_orchestrators_own_interrupt_is_an_interrupt_not_a_failure(tmp_path: Path) -> None:
    calls: list[str] = []
    phases = _phases(calls, "teardown", [])

    def replay() -> Mapping[str, Any]:
        raise OrchestratorInterrupt

    with pytest.raises(OrchestratorInterrupt):
        run_phases(
            Phases(**{**{n: phases.get(n) for n in PHASES}, "replay": replay}),
            RunStateLog(tmp_path / "r.json", "r"),
        )
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["status"] == "interrupted"
    assert ("replay", "interrupted") in {(t["phase"], t["status"]) for t in doc["transitions"]}
    assert calls[-4:] == ["teardown", "teardown:finished", "argocd_restore", "unlock"]
