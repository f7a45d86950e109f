"""The drift sensor: while no simulation holds the runtime, compare it and Argo CD with their baseline.

The baseline is the newest captured pre-run state among the run directories (`state.restored.json` of a
run that restored cleanly). Only the fields a simulation patches are compared (runtime env by variable,
TA keys, Flink job fields, Argo CD automation); a difference is reported, never corrected, because GitOps
may have changed the runtime legitimately since that capture.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from resources import KubernetesResource, SimulationConfigResource
from torghut_sim.runtime import argocd
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import read_lock
from torghut_sim.runtime.model import RuntimeState, StateFileError, read_state
from torghut_sim.runtime.restore_status import RESTORED_STATE_NAME
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
    for path in output_root.glob(f"*/{RESTORED_STATE_NAME}"):
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


def drift_report(kube: Kube, namespace: str, output_root: Path) -> DriftReport:
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
    argo = [d.to_json() for d in argocd.mode_differences(kube, state, "previous")]
    return DriftReport(
        baseline=str(path),
        captured_at=state.captured_at,
        runtime=runtime,
        argocd=argo,
        unrestored_runs=unrestored,
    )


@dg.sensor(
    name="runtime_drift",
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Report runtime and Argo CD fields that differ from the last captured baseline.",
)
def runtime_drift_sensor(
    context: dg.SensorEvaluationContext,
    simulation_config: SimulationConfigResource,
    kubernetes: KubernetesResource,
) -> dg.SkipReason:
    """Check each idle runtime lane against its baseline; write runtime-drift[-<lane>].json by the runs."""
    output_root = simulation_config.output_dir
    lanes = simulation_config.lanes()
    # One lane: the namespace of the Kubernetes resource, reported as runtime-drift.json as it always was.
    targets = [(lane.name, lane.namespace) for lane in lanes] if lanes else [(None, kubernetes.namespace)]
    lines: list[str] = []
    with kubernetes.client() as kube:
        for name, namespace in targets:
            report = drift_report(kube, namespace, output_root)
            if report.lock_holder is None:
                output_root.mkdir(parents=True, exist_ok=True)
                text = json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"
                file_name = DRIFT_REPORT_NAME if name is None else f"runtime-drift-{name}.json"
                (output_root / file_name).write_text(text, encoding="utf-8")
            line = report.summary() if name is None else f"{name}: {report.summary()}"
            if report.drifted:
                context.log.warning(line)
            lines.append(line)
    return dg.SkipReason(" | ".join(lines))
