"""What `torghut-sim status` shows: lock holder, Argo CD's live mode, runtime drift from baseline.

Values are redacted before they are shown; a runtime that differs from its captured baseline is listed
field by field (env by variable name) so an operator sees what a teardown would put back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from torghut_sim.layout import RunPaths
from torghut_sim.runtime import argocd, jsonpointer
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.knative import ENV_POINTER
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import read_lock
from torghut_sim.runtime.model import ARGO_FREEZE_ORDER, RUNTIME_ROLES, RuntimeState, read_state
from torghut_sim.runtime.redaction import redact_env_value
from torghut_sim.runtime.restore_status import restore_required, restore_state


def _env_view(entry: Mapping[str, Any]) -> str:
    name = str(entry.get("name", ""))
    if "valueFrom" in entry:
        return "valueFrom " + json.dumps(entry["valueFrom"], sort_keys=True)
    return redact_env_value(name, str(entry.get("value", "")))


def env_diff(
    baseline: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per variable whose (last) definition differs: its baseline and live forms, redacted."""
    before = {str(e.get("name")): _env_view(e) for e in baseline}
    after = {str(e.get("name")): _env_view(e) for e in live}
    out: list[dict[str, Any]] = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            out.append({"name": name, "baseline": before.get(name), "live": after.get(name)})
    return out


def _show(pointer: str, field: Captured) -> str:
    return redact_env_value(pointer, str(field.value)) if field.present else "<absent>"


def runtime_drift(kube: Kube, state: RuntimeState) -> dict[str, Any]:
    """Every runtime field that differs from the captured baseline (env listed per variable)."""
    out: dict[str, Any] = {}
    for role in RUNTIME_ROLES:
        capture = state.by_role(role)
        if capture is None:
            continue
        live = kube.get(capture.ref)
        changed: list[Any] = []
        for pointer, before in capture.fields.items():
            now = jsonpointer.read(live, pointer)
            if now.same_as(before):
                continue
            if pointer == ENV_POINTER:
                changed.extend(env_diff(before.value or [], now.value or []))
            else:
                changed.append(
                    {"field": pointer, "baseline": _show(pointer, before), "live": _show(pointer, now)}
                )
        out[capture.ref.describe()] = changed
    return out


def status_report(kube: Kube, namespace: str, paths: RunPaths | None = None) -> dict[str, Any]:
    """Lock holder, and for a run directory: phase status, Argo CD mode, runtime drift."""
    holder = read_lock(kube, namespace)
    report: dict[str, Any] = {
        "lock": None
        if holder is None
        else {
            "run_id": holder.run_id,
            "run_token": holder.run_token,
            "dataset_id": holder.dataset_id,
            "owner": holder.owner,
            "acquired_at": holder.acquired_at.isoformat(),
        }
    }
    if paths is None:
        return report
    if paths.run_state.exists():
        report["run_status"] = json.loads(paths.run_state.read_text()).get("status")
    # The same answer as run-state.json and the Dagster check `runtime_restored` give.
    report["restore_required"] = restore_required(paths)
    report["restore_state"] = restore_state(paths).reason
    if paths.restore_required.exists():
        report["restore_marker"] = str(paths.restore_required)
    if not paths.state.exists():
        report["captured"] = False
        return report
    state = read_state(paths.state)
    report["captured"] = True
    report["run_id"] = state.run_id
    report["argocd"] = argocd.describe_live_mode(kube, state)
    report["argocd_captured"] = {
        f"{o.role}:{o.name}": [f.describe() for f in o.fields.values()]
        for o in state.objects
        if o.role in ARGO_FREEZE_ORDER
    }
    report["runtime_diff"] = runtime_drift(kube, state)
    return report
