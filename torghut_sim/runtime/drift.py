"""Runtime drift: the live runtime and Argo CD compared with the newest baseline a run captured and restored.

The baseline is the newest captured pre-run state among the run directories (`state.restored.json` of a
run that restored cleanly). Only the fields a simulation patches are compared (runtime env by variable,
TA keys, Flink job fields, Argo CD automation); a difference is reported, never corrected, because GitOps
may have changed the runtime legitimately since that capture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torghut_sim.atomic_file import write_json_atomic
from torghut_sim.layout import STATE_RESTORED_NAME
from torghut_sim.runtime import argocd
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import read_lock
from torghut_sim.runtime.model import RuntimeState, StateFileError, read_state
from torghut_sim.runtime.status import runtime_drift

DRIFT_REPORT_NAME = "runtime-drift.json"


@dataclass(frozen=True)
class DriftReport:
    """What the sensor found: who holds the lock, the baseline used, and every difference."""

    lock_holder: str | None = None
    baseline: str | None = None
    captured_at: str | None = None
    runtime: dict[str, list[Any]] = field(default_factory=dict)
    argocd: list[dict[str, Any]] = field(default_factory=list)
    unrestored_runs: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        """Whether anything differs from the baseline (or a run was left unrestored)."""
        return any(self.runtime.values()) or bool(self.argocd) or bool(self.unrestored_runs)

    def to_json(self) -> dict[str, Any]:
        """The report as written beside the run directories (values redacted by the domain)."""
        return {
            "lock_holder": self.lock_holder,
            "baseline": self.baseline,
            "captured_at": self.captured_at,
            "drifted": self.drifted,
            "runtime": self.runtime,
            "argocd": self.argocd,
            "unrestored_runs": self.unrestored_runs,
        }

    def summary(self) -> str:
        """One line for the sensor tick."""
        if self.lock_holder:
            return f"skipped: {self.lock_holder} holds the runtime; drift is expected while it runs"
        if self.baseline is None:
            return "no baseline yet: no run has captured and restored the runtime"
        fields = sum(len(v) for v in self.runtime.values()) + len(self.argocd)
        if not self.drifted:
            return f"runtime and Argo CD match the baseline captured at {self.captured_at}"
        return (
            f"DRIFT: {fields} field(s) differ from the baseline captured at {self.captured_at}; "
            f"unrestored runs: {', '.join(self.unrestored_runs) or 'none'}"
        )


def latest_baseline(output_root: Path, namespace: str | None = None) -> tuple[Path, RuntimeState] | None:
    """The newest restored capture under an output root (by capture time), of one runtime namespace."""
    found: list[tuple[str, Path, RuntimeState]] = []
    for path in output_root.glob(f"*/{STATE_RESTORED_NAME}"):
        try:
            state = read_state(path)
        except StateFileError:
            continue
        # With several runtime lanes, each lane (namespace) has its own baseline.
        if namespace is not None and state.lock_namespace != namespace:
            continue
        found.append((state.captured_at, path, state))
    if not found:
        return None
    _, path, state = max(found, key=lambda item: item[0])
    return path, state


def drift_report(
    kube: Kube, namespace: str, output_root: Path, argo: argocd.ArgoCd | None = None
) -> DriftReport:
    """Compare the live runtime and Argo CD with the newest baseline, unless a simulation holds the lock."""
    holder = read_lock(kube, namespace)
    if holder is not None:
        return DriftReport(lock_holder=holder.describe())
    unrestored = sorted(p.parent.name for p in output_root.glob("*/state.json"))
    baseline = latest_baseline(output_root, namespace)
    if baseline is None:
        return DriftReport(unrestored_runs=unrestored)
    path, state = baseline
    runtime = {ref: changes for ref, changes in runtime_drift(kube, state).items() if changes}
    argo_diffs = (argo or argocd.ArgoCd(kube)).differences(state, "previous")
    return DriftReport(
        baseline=str(path),
        captured_at=state.captured_at,
        runtime=runtime,
        argocd=[d.to_json() for d in argo_diffs],
        unrestored_runs=unrestored,
    )


def drift_report_path(output_root: Path, lane: str | None) -> Path:
    """Where a lane's report is written beside the run directories (`runtime-drift.json` for one lane)."""
    return output_root / (DRIFT_REPORT_NAME if lane is None else f"runtime-drift-{lane}.json")


def write_drift_report(output_root: Path, lane: str | None, report: DriftReport) -> Path:
    """Write a lane's report (values already redacted by the comparison)."""
    path = drift_report_path(output_root, lane)
    write_json_atomic(path, report.to_json())
    return path
