"""The phase order, run-state.json transitions, and cleanup that always runs once the lock phase began."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from torghut_sim.errors import TorghutSimError
from torghut_sim.runtime.readiness import Readiness, ReadinessTimeoutError, wait_until_ready
from torghut_sim.runtime.state_machine import (
    CLEANUP_PHASES,
    MAIN_PHASES,
    PHASES,
    PhaseFailedError,
    Phases,
    RunStateLog,
    Terminated,
    run_phases,
)


class InjectedError(TorghutSimError):
    """An injected failure."""

    reason = "boom"


class Recorder:
    """Phases that record their calls and fail (or get interrupted) where told."""

    def __init__(
        self,
        fail_at: str | None = None,
        interrupt: type[BaseException] | None = None,
        cleanup_fail: str | None = None,
    ) -> None:
        self.calls: list[str] = []
        self.fail_at = fail_at
        self.interrupt = interrupt
        self.cleanup_fail = cleanup_fail

    def phase(self, name: str) -> Any:
        def run() -> Mapping[str, Any]:
            self.calls.append(name)
            if name == self.fail_at:
                if self.interrupt is not None:
                    raise self.interrupt()
                raise InjectedError(f"injected at {name}")
            if name == self.cleanup_fail:
                raise InjectedError(f"cleanup {name} failed")
            return {"phase": name}

        return run

    def phases(self) -> Phases:
        return Phases(**{name: self.phase(name) for name in PHASES})


def _log(tmp_path: Path) -> RunStateLog:
    return RunStateLog(tmp_path / "run-state.json", "sim-20260306-01")


def test_a_clean_run_goes_through_every_phase_in_order(tmp_path: Path) -> None:
    rec = Recorder()
    log = _log(tmp_path)
    outcome = run_phases(rec.phases(), log)
    assert rec.calls == list(PHASES)
    assert outcome.status == "succeeded"
    doc = json.loads(log.path.read_text())
    assert doc["status"] == "succeeded"
    statuses = [(t["phase"], t["status"]) for t in doc["transitions"]]
    assert statuses[0] == ("run", "started")
    assert ("teardown", "succeeded") in statuses and statuses[-1] == ("run", "succeeded")
    assert all("at" in t for t in doc["transitions"])


@pytest.mark.parametrize("phase", MAIN_PHASES[1:])
def test_a_failure_in_any_phase_after_lock_still_cleans_up(tmp_path: Path, phase: str) -> None:
    rec = Recorder(fail_at=phase)
    log = _log(tmp_path)
    with pytest.raises(InjectedError):
        run_phases(rec.phases(), log)
    assert rec.calls[-3:] == list(CLEANUP_PHASES)
    assert rec.calls[:-3] == list(MAIN_PHASES[: MAIN_PHASES.index(phase) + 1])
    doc = json.loads(log.path.read_text())
    assert doc["status"] == "failed"
    failed = [t for t in doc["transitions"] if t["status"] == "failed"]
    assert failed[0]["phase"] == phase and failed[0]["details"]["reason"] == "boom"
    assert doc["transitions"][-1]["details"]["failed_phase"] == phase


def test_a_failed_preflight_touches_nothing(tmp_path: Path) -> None:
    rec = Recorder(fail_at="preflight")
    with pytest.raises(InjectedError):
        run_phases(rec.phases(), _log(tmp_path))
    assert rec.calls == ["preflight"]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, Terminated])
def test_an_interrupt_cleans_up_and_is_recorded(tmp_path: Path, interrupt: type[BaseException]) -> None:
    rec = Recorder(fail_at="replay", interrupt=interrupt)
    log = _log(tmp_path)
    with pytest.raises(interrupt):
        run_phases(rec.phases(), log)
    assert rec.calls[-3:] == list(CLEANUP_PHASES)
    doc = json.loads(log.path.read_text())
    assert doc["status"] == "interrupted"
    assert {"phase": "replay", "status": "interrupted"}.items() <= next(
        t for t in doc["transitions"] if t["phase"] == "replay" and t["status"] != "started"
    ).items()


def test_a_failed_restore_keeps_the_lock_and_fails_the_run(tmp_path: Path) -> None:
    rec = Recorder(cleanup_fail="teardown")
    log = _log(tmp_path)
    with pytest.raises(PhaseFailedError) as failed:
        run_phases(rec.phases(), log)
    assert failed.value.reason == "restore_failed"
    assert "unlock" not in rec.calls and "argocd_restore" in rec.calls
    doc = json.loads(log.path.read_text())
    assert doc["status"] == "restore_required"
    unlock = [t for t in doc["transitions"] if t["phase"] == "unlock"]
    assert unlock == [{**unlock[0], "status": "skipped"}]


def test_through_ready_leaves_the_run_applied_but_cleans_up_on_failure(tmp_path: Path) -> None:
    rec = Recorder()
    outcome = run_phases(rec.phases(), _log(tmp_path), through="ready")
    assert rec.calls == list(MAIN_PHASES[: MAIN_PHASES.index("ready") + 1])
    assert outcome.status == "applied"
    failing = Recorder(fail_at="ready")
    with pytest.raises(InjectedError):
        run_phases(failing.phases(), _log(tmp_path / "other"), through="ready")
    assert failing.calls[-3:] == list(CLEANUP_PHASES)


def test_a_resumed_run_appends_to_the_same_log(tmp_path: Path) -> None:
    log = _log(tmp_path)
    with pytest.raises(InjectedError):
        run_phases(Recorder(fail_at="apply").phases(), log)
    first = len(log.transitions())
    run_phases(Recorder().phases(), log)
    transitions = log.transitions()
    assert len(transitions) > first
    assert transitions[first]["details"]["resumed"] is True


def test_wait_until_ready_gives_up_with_the_last_reasons() -> None:
    now = [0.0]
    verdicts = iter(
        [Readiness.not_ready("first"), Readiness.not_ready("second"), Readiness.not_ready("third")]
    )

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(ReadinessTimeoutError) as timeout:
        wait_until_ready("thing", lambda: next(verdicts), 2.0, 1.0, clock=lambda: now[0], sleep=sleep)
    assert timeout.value.reason == "readiness_timeout"
    assert "third" in timeout.value.message
    ready = iter([Readiness.not_ready("x"), Readiness.ok({"v": 1})])
    assert wait_until_ready(
        "thing", lambda: next(ready), 5.0, 1.0, clock=lambda: now[0], sleep=sleep
    ).details == {"v": 1}
