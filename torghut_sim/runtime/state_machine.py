"""The run state machine: phases in order, every transition appended to `run-state.json`, cleanup in finally.

Phases are injected callables, so provisioning, replay, monitoring and export come from their own modules.
Once the lock phase has started, teardown, Argo CD restore and unlock always run — on success, failure or
interrupt — with SIGINT/SIGTERM deferred until they are done, so a second Ctrl-C cannot cut a restore.
The lock is released only when both restores succeeded: a runtime left patched stays locked, so no other
run can capture it as its baseline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from torghut_sim.atomic_file import write_json_atomic
from torghut_sim.errors import TorghutSimError
from torghut_sim.runtime.signals import Terminated, interrupt_once, restore_shield

__all__ = ["Terminated"]

PHASES: tuple[str, ...] = (
    "preflight",
    "lock",
    "argocd_prepare",
    "provision",
    "apply",
    "ready",
    "replay",
    "monitor",
    "export",
    "teardown",
    "argocd_restore",
    "unlock",
)
MAIN_PHASES: tuple[str, ...] = PHASES[:9]
CLEANUP_PHASES: tuple[str, ...] = PHASES[9:]
RUN_STATE_SCHEMA = "torghut-sim.run-state.v1"
# Where an attempt that never took the lock is recorded, beside (never inside) the run's run-state.json.
REFUSED_ATTEMPTS_NAME = "refused-attempts.jsonl"
# Lock refusals: the lock belongs to another run, so this attempt has nothing to clean up.
REFUSED_LOCK_REASONS: frozenset[str] = frozenset({"lock_held", "lock_stale"})

PhaseFn = Callable[[], Mapping[str, Any] | None]


def _noop() -> Mapping[str, Any] | None:
    return {"note": "nothing to do"}


class PhaseFailedError(TorghutSimError):
    """A phase failed; carries the phase name and the original reason."""

    reason = "phase_failed"


@dataclass(frozen=True)
class Phases:
    """One callable per phase; the runtime ones come from the controller, the rest from the pipeline."""

    lock: PhaseFn
    argocd_prepare: PhaseFn
    apply: PhaseFn
    ready: PhaseFn
    teardown: PhaseFn
    argocd_restore: PhaseFn
    unlock: PhaseFn
    preflight: PhaseFn = _noop
    provision: PhaseFn = _noop
    replay: PhaseFn = _noop
    monitor: PhaseFn = _noop
    export: PhaseFn = _noop

    def get(self, name: str) -> PhaseFn:
        """The callable of a phase by name."""
        if name not in {f.name for f in fields(self)}:
            raise KeyError(name)
        fn: PhaseFn = getattr(self, name)
        return fn


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def is_interrupt(exc: BaseException) -> bool:
    """A request to stop, not a failure: KeyboardInterrupt, SIGTERM's Terminated, or an orchestrator's
    own interrupt (anything raised that is a BaseException but not an Exception, as Dagster's is)."""
    return not isinstance(exc, Exception)


def _error_details(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, TorghutSimError):
        return {"error": exc.message, "reason": exc.reason, "type": type(exc).__name__}
    if is_interrupt(exc):
        return {"error": "interrupted", "reason": "interrupted", "type": type(exc).__name__}
    return {"error": str(exc)[:2000], "reason": "unexpected_error", "type": type(exc).__name__}


class RunStateLog:
    """`run-state.json`: the append-only list of transitions, rewritten atomically on every append."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        # Transitions kept in memory (not yet this run directory's record) while an attempt has no lock.
        self._held: list[dict[str, Any]] | None = None
        self._held_status: str | None = None

    @property
    def holding(self) -> bool:
        """Whether transitions are being held back from the file."""
        return self._held is not None

    def _file(self) -> dict[str, Any]:
        if self.path.exists():
            doc: dict[str, Any] = json.loads(self.path.read_text())
            return doc
        return {"schema_version": RUN_STATE_SCHEMA, "run_id": self.run_id, "status": "new", "transitions": []}

    def load(self) -> dict[str, Any]:
        """The document so far (an empty one when the file does not exist), held transitions included."""
        doc = self._file()
        if self._held:
            doc["transitions"] = [*doc["transitions"], *self._held]
            doc["status"] = self._held_status or doc["status"]
        return doc

    def hold(self) -> None:
        """Keep transitions in memory until `commit` (the attempt took the lock) or `divert` (it did not)."""
        if self._held is None:
            self._held, self._held_status = [], None

    def commit(self) -> None:
        """Write the held transitions into run-state.json: the attempt now owns this run directory."""
        held, status = self._held or [], self._held_status
        self._held, self._held_status = None, None
        if held:
            doc = self._file()
            doc["transitions"].extend(held)
            if status is not None:
                doc["status"] = status
            self._write(doc)

    def divert(self, path: Path, details: Mapping[str, Any]) -> None:
        """Record an attempt that never took the lock as one line of `path`, leaving run-state.json alone."""
        held = self._held or []
        self._held, self._held_status = None, None
        line = {"run_id": self.run_id, "at": _now(), **dict(details), "transitions": held}
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, sort_keys=True, default=str) + "\n")

    def transitions(self) -> list[dict[str, Any]]:
        """Every transition recorded so far."""
        items: list[dict[str, Any]] = self.load()["transitions"]
        return items

    def append(
        self, phase: str, status: str, details: Mapping[str, Any] | None = None, run_status: str | None = None
    ) -> None:
        """Record one transition (and optionally the run's overall status)."""
        item = {"phase": phase, "status": status, "at": _now(), "details": dict(details or {})}
        if self._held is not None:
            self._held.append(item)
            self._held_status = run_status or self._held_status
            return
        doc = self._file()
        doc["transitions"].append(item)
        if run_status is not None:
            doc["status"] = run_status
        self._write(doc)

    def _write(self, doc: dict[str, Any]) -> None:
        doc["updated_at"] = _now()
        write_json_atomic(self.path, doc)

    def completed(self) -> set[str]:
        """Phases whose last transition is `succeeded`."""
        last: dict[str, str] = {}
        for item in self.transitions():
            last[item["phase"]] = item["status"]
        return {p for p, s in last.items() if s == "succeeded"}


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: its status, the phase that failed (if any) and the cleanup results."""

    status: str
    failed_phase: str | None
    cleanup_failed: tuple[str, ...]


def _run_phase(log: RunStateLog, name: str, fn: PhaseFn) -> None:
    log.append(name, "started")
    try:
        details = fn()
    except BaseException as exc:
        log.append(name, "interrupted" if is_interrupt(exc) else "failed", _error_details(exc))
        raise
    log.append(name, "succeeded", details)


def run_phases(phases: Phases, log: RunStateLog, through: str | None = None) -> RunOutcome:
    """Run the main phases (up to `through`, default all), then the cleanup phases in `finally`.

    With `through` set, a run that succeeds up to that phase is left applied (for a later `teardown`);
    a failure still cleans up. The first error is re-raised after cleanup; a cleanup failure alone raises.
    """
    if through is not None and through not in MAIN_PHASES:
        raise ValueError(f"through must be one of {MAIN_PHASES}")
    # A second Ctrl-C while the first one unwinds towards the cleanup is noted, never raised.
    with interrupt_once():
        return _run_phases(phases, log, through)


def _run_phases(phases: Phases, log: RunStateLog, through: str | None) -> RunOutcome:
    resumed = bool(log.transitions())
    stop = MAIN_PHASES.index(through) + 1 if through else len(MAIN_PHASES)
    if log.path.exists() and "lock" in MAIN_PHASES[:stop]:
        # The run directory holds an earlier (or a crashed) run's record: this attempt writes there only
        # once it has the lock; refused, its record goes to refused-attempts.jsonl instead.
        log.hold()
    log.append("run", "started", {"resumed": resumed, "through": through}, run_status="running")
    lock_started = False
    failed_phase: str | None = None
    primary: BaseException | None = None
    try:
        for name in MAIN_PHASES[:stop]:
            if name == "lock":
                lock_started = True
            failed_phase = name
            _run_phase(log, name, phases.get(name))
            if name == "lock":
                log.commit()
        failed_phase = None
    except BaseException as exc:
        primary = exc
        raise
    finally:
        cleanup_failed: list[str] = []
        left_applied = primary is None and through is not None
        # A lock refused to this attempt was never its own: nothing to restore, nothing to release.
        refused = failed_phase == "lock" and getattr(primary, "reason", None) in REFUSED_LOCK_REASONS
        with restore_shield() as deferred:
            if lock_started and not left_applied and not refused:
                cleanup_failed = run_cleanup(phases, log)
            status = _final_status(primary, cleanup_failed, left_applied)
            details: dict[str, Any] = {"failed_phase": failed_phase, "cleanup_failed": cleanup_failed}
            if deferred.received:
                details["deferred_signals"] = deferred.names
            log.append("run", status, details, run_status=status)
            if log.holding:
                error = _error_details(primary) if primary is not None else {}
                log.divert(log.path.with_name(REFUSED_ATTEMPTS_NAME), {"status": status, **error})
            if primary is not None and is_interrupt(primary):
                # Already stopping for an interrupt: a later Ctrl-C asks for nothing more.
                deferred.discard()
        if primary is None and cleanup_failed:
            raise PhaseFailedError(
                f"cleanup phase(s) {', '.join(cleanup_failed)} failed; see run-state.json",
                reason="restore_failed",
            )
    return RunOutcome(status, failed_phase, tuple(cleanup_failed))


def _final_status(primary: BaseException | None, cleanup_failed: list[str], left_applied: bool) -> str:
    if cleanup_failed:
        return "restore_required"
    if primary is None:
        return "applied" if left_applied else "succeeded"
    if is_interrupt(primary):
        return "interrupted"
    return "failed"


def run_cleanup(phases: Phases, log: RunStateLog) -> list[str]:
    """Teardown, Argo CD restore, then unlock (skipped when a restore failed); returns the failed phases.

    SIGINT and SIGTERM wait until all three are done (`restore_shield`); each one that arrives is noted.
    """
    failed: list[str] = []
    with restore_shield() as deferred:
        for name in CLEANUP_PHASES:
            if name == "unlock" and failed:
                log.append(name, "skipped", {"reason": "restore_required", "after": failed})
                continue
            try:
                _run_phase(log, name, phases.get(name))
            except Exception:  # noqa: BLE001 - recorded in run-state.json; the other cleanup phases must run
                failed.append(name)
        if deferred.received:
            log.append("run", "signals_deferred", {"signals": deferred.names, "during": list(CLEANUP_PHASES)})
    return failed


def controller_phases(controller: Any, **pipeline: PhaseFn) -> Phases:
    """Phases with the runtime steps of a RuntimeController and the pipeline's own steps by name."""
    unknown = set(pipeline) - {"preflight", "provision", "replay", "monitor", "export"}
    if unknown:
        raise ValueError(f"not pipeline phases: {sorted(unknown)}")
    return Phases(
        lock=controller.acquire_lock,
        argocd_prepare=controller.prepare_argocd,
        apply=controller.apply,
        ready=controller.wait_ready,
        teardown=controller.teardown,
        argocd_restore=controller.restore_argocd,
        unlock=controller.release_lock,
        **pipeline,
    )
