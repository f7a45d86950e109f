"""Teardown from `state.json` alone: put every captured field back and prove it, or say exactly what is left.

Works in a fresh process after a crash. Each object is restored only when it differs from the capture;
the result is verified field by field and by whole-spec fingerprint. When anything is left, a
`restore-required.json` lists the differences and the kubectl commands that fix them, and the run fails.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from torghut_sim.atomic_file import write_json_atomic
from torghut_sim.errors import TorghutSimError
from torghut_sim.layout import RunPaths
from torghut_sim.runtime import argocd
from torghut_sim.runtime.capture import unchanged_since_capture
from torghut_sim.runtime.diff import FieldDifference, differences
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import LOCK_NAME
from torghut_sim.runtime.model import ARGO_FREEZE_ORDER, RUNTIME_ROLES, ObjectCapture, Role, RuntimeState
from torghut_sim.runtime.patching import DEFAULT_ATTEMPTS, FieldChange, guarded_patch
from torghut_sim.runtime.run_secret import delete_run_secret
from torghut_sim.runtime.ta import JOB_STATE

MARKER_SCHEMA = "torghut-sim.restore-required.v1"


class RestoreFailedError(TorghutSimError):
    """Something captured could not be put back; restore-required.json says what and how."""

    reason = "restore_failed"


@dataclass
class RestoreReport:
    """What a restore did and what is still different."""

    restored: list[str] = field(default_factory=list)
    differences: list[FieldDifference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Objects whose spec differs from the capture only outside the fields the run patched.
    foreign_changes: list[str] = field(default_factory=list)
    # Fields that could not be read back (e.g. the API server was down): what each should hold.
    unverified: list[FieldDifference] = field(default_factory=list)
    # Commands for what is left that is not a field (e.g. the run Secret to delete).
    extra_commands: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing captured is left different (or unknown)."""
        return not self.differences and not self.errors and not self.unverified

    def commands(self) -> list[str]:
        """The kubectl commands that set every different or unverified field to what it should hold."""
        return [fix_command(d) for d in [*self.differences, *self.unverified]] + self.extra_commands

    def to_json(self) -> dict[str, Any]:
        """JSON for run-state details and the marker (no field values)."""
        return {
            "restored": self.restored,
            "differences": [d.to_json() for d in self.differences],
            "errors": self.errors,
            "foreign_changes": self.foreign_changes,
            "unverified": [d.to_json() for d in self.unverified],
        }


def _restore_object(kube: Kube, capture: ObjectCapture, attempts: int) -> bool:
    live = kube.get(capture.ref)
    if live is None or not differences(capture.ref, live, capture.fields):
        return False
    guards = [FieldChange(p, g) for p, g in capture.guards.items()]
    if capture.role == "flink_deployment":
        # Suspend first, so putting the captured state back restarts the job on the restored config.
        guarded_patch(
            kube, capture.ref, [FieldChange(JOB_STATE, Captured.of("suspended"), any_current=True)], attempts
        )
    changes = [FieldChange(p, before, any_current=True) for p, before in capture.fields.items()]
    guarded_patch(kube, capture.ref, guards + changes, attempts)
    return True


def _unverified(capture: ObjectCapture, wanted: dict[str, Captured]) -> list[FieldDifference]:
    return [FieldDifference(capture.ref, p, expected, Captured.absent()) for p, expected in wanted.items()]


def _verify(
    kube: Kube,
    capture: ObjectCapture,
    wanted: dict[str, Captured],
    report: RestoreReport,
    foreign: bool = True,
) -> None:
    try:
        live = kube.get(capture.ref)
    except TorghutSimError as exc:
        report.errors.append(f"{capture.ref.describe()}: cannot verify: {exc}")
        report.unverified.extend(_unverified(capture, wanted))
        return
    found = differences(capture.ref, live, wanted)
    report.differences.extend(found)
    if foreign and live is not None and not found and not unchanged_since_capture(capture, live):
        report.foreign_changes.append(capture.ref.describe())


def restore_runtime(kube: Kube, state: RuntimeState, attempts: int = DEFAULT_ATTEMPTS) -> RestoreReport:
    """Put the Knative env, TA keys and Flink fields back as captured, then verify every one."""
    report = RestoreReport()
    for role in RUNTIME_ROLES:
        capture = state.by_role(role)
        if capture is None:
            continue
        try:
            if _restore_object(kube, capture, attempts):
                report.restored.append(capture.ref.describe())
        except TorghutSimError as exc:
            report.errors.append(f"{capture.ref.describe()}: {exc}")
        _verify(kube, capture, dict(capture.fields), report)
    return report


def restore_argocd(
    argo: argocd.ArgoCd, state: RuntimeState, mode: argocd.Mode, attempts: int = DEFAULT_ATTEMPTS
) -> RestoreReport:
    """Put Argo CD into the restore mode (`previous` = as captured), then verify."""
    report = RestoreReport()
    try:
        argo.restore(state, mode, attempts)
    except TorghutSimError as exc:
        report.errors.append(str(exc))
    for role in reversed(ARGO_FREEZE_ORDER):
        capture = state.by_role(role)
        if capture is None or not capture.exists:
            continue
        wanted = dict(capture.fields) if mode == "previous" else argocd.mode_targets(capture, mode)
        _verify(argo.kube, capture, wanted, report, foreign=mode == "previous")
    if report.ok:
        report.restored.append(f"argocd:{mode}")
    return report


def fix_command(diff: FieldDifference) -> str:
    """The kubectl command that sets one field to what it should be."""
    op: dict[str, Any]
    if diff.expected.present:
        op = {"op": "add", "path": diff.pointer, "value": diff.expected.value}
    else:
        op = {"op": "remove", "path": diff.pointer}
    patch = json.dumps([op], separators=(",", ":"))
    namespace, target = shlex.quote(diff.ref.namespace), shlex.quote(diff.ref.kubectl_target())
    return f"kubectl --namespace {namespace} patch {target} --type=json -p {shlex.quote(patch)}"


def update_marker(
    paths: RunPaths,
    state: RuntimeState,
    phase: str,
    report: RestoreReport | None,
    extra_commands: Sequence[str] = (),
) -> None:
    """Record (report not ok) or clear (report ok or None) one phase's section of restore-required.json."""
    marker: Path = paths.restore_required
    doc: dict[str, Any] = {}
    if marker.exists():
        try:
            doc = json.loads(marker.read_text())
        except ValueError:
            doc = {}
    phases: dict[str, Any] = dict(doc.get("phases") or {})
    if report is None or report.ok:
        phases.pop(phase, None)
    else:
        phases[phase] = {**report.to_json(), "commands": [*report.commands(), *extra_commands]}
    if not phases:
        marker.unlink(missing_ok=True)
        return
    doc = {
        "schema_version": MARKER_SCHEMA,
        "run_id": state.run_id,
        "run_token": state.run_token,
        "written_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "state_file": str(paths.state),
        "retry_command": (
            f"torghut-sim teardown --run-dir {shlex.quote(str(paths.root))} --kubeconfig <kubeconfig>"
        ),
        "phases": phases,
    }
    write_json_atomic(marker, doc)


def raise_if_failed(paths: RunPaths, state: RuntimeState, phase: str, report: RestoreReport) -> None:
    """Write or clear the marker for a phase; raise RestoreFailedError when the phase left differences."""
    update_marker(paths, state, phase, report)
    if not report.ok:
        parts = [f"{d.ref.describe()} {d.pointer}" for d in report.differences] + report.errors
        raise RestoreFailedError(
            f"{phase} left {len(parts)} difference(s): {'; '.join(parts)[:800]}; see {paths.restore_required}"
        )


def unverified_report(
    state: RuntimeState, roles: Sequence[Role], exc: BaseException, mode: argocd.Mode = "previous"
) -> RestoreReport:
    """A restore that failed outright: every captured field of `roles` unverified, with the error."""
    report = RestoreReport(errors=[_describe_error(exc)])
    for role in roles:
        capture = state.by_role(role)
        if capture is None or not capture.exists:
            continue
        by_mode = role in ARGO_FREEZE_ORDER and mode != "previous"
        wanted = argocd.mode_targets(capture, mode) if by_mode else dict(capture.fields)
        report.unverified.extend(_unverified(capture, wanted))
    return report


def record_unlock_failure(paths: RunPaths, state: RuntimeState, namespace: str, exc: BaseException) -> None:
    """The marker section of an unlock that failed: the lock is still held, and how to release it."""
    report = RestoreReport(errors=[_describe_error(exc)])
    delete = f"kubectl --namespace {shlex.quote(namespace)} delete configmap {LOCK_NAME}"
    update_marker(paths, state, "unlock", report, extra_commands=[delete])


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, TorghutSimError):
        return f"[{exc.reason}] {exc.message}"
    return f"[unexpected_error] {type(exc).__name__}: {str(exc)[:300]}"


def remove_run_secret(kube: Kube, state: RuntimeState, report: RestoreReport) -> None:
    """Delete the run's DSN Secret (whatever else the teardown managed); a failure joins the report."""
    if state.run_secret is None:
        return
    try:
        if delete_run_secret(kube, state.lock_namespace, state.run_secret):
            report.restored.append(f"Secret/{state.run_secret} (namespace {state.lock_namespace}) deleted")
    except TorghutSimError as exc:
        report.errors.append(f"Secret/{state.run_secret}: not deleted: {exc.message}")
        report.extra_commands.append(
            f"kubectl --namespace {shlex.quote(state.lock_namespace)} delete secret {state.run_secret}"
        )
