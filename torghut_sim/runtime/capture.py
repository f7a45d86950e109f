"""Capture before the first mutation: every field a run will patch, as it is now, into `state.json`.

A field that does not exist is captured as absent, so restore removes what the run added. A state file
already written for the same run is reused, never recaptured: after a crash the live objects hold the
run's values and recapturing would make them the "baseline".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from torghut_sim.errors import TorghutSimError
from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.argocd import AUTOMATED_POINTER, element_automation_pointer, find_list_element
from torghut_sim.runtime.fields import sha256_json
from torghut_sim.runtime.inputs import RunIdentity, RuntimeTargets
from torghut_sim.runtime.knative import CONTAINER_NAME_POINTER, ENV_POINTER
from torghut_sim.runtime.kube_client import APPLICATION, Kube, ObjectNotFoundError, ObjectRef
from torghut_sim.runtime.model import (
    RESOURCES_BY_ROLE,
    ObjectCapture,
    Role,
    RuntimeState,
    read_state,
    write_state,
)
from torghut_sim.runtime.ta import FLINK_FIELDS, TA_KEYS, configmap_pointer


class StateOfOtherRunError(TorghutSimError):
    """The run directory holds captured state of a different run."""

    reason = "state_of_other_run"


def spec_fingerprint(role: Role, obj: dict[str, Any]) -> str:
    """SHA-256 of what the restore is compared on: `data` of a ConfigMap, `spec` of anything else."""
    return sha256_json(obj.get("data") or {} if role == "ta_configmap" else obj.get("spec") or {})


def capture_object(
    role: Role,
    obj: dict[str, Any],
    pointers: Iterable[str],
    guard_pointers: Iterable[str] = (),
) -> ObjectCapture:
    """One object's patched fields (absent ones as absent) and the fingerprint of its whole spec."""
    meta = obj["metadata"]
    return ObjectCapture(
        role=role,
        namespace=meta["namespace"],
        name=meta["name"],
        exists=True,
        spec_sha256=spec_fingerprint(role, obj),
        fields={p: jsonpointer.read(obj, p) for p in pointers},
        guards={p: jsonpointer.read(obj, p) for p in guard_pointers},
    )


def _required(kube: Kube, role: Role, namespace: str, name: str) -> dict[str, Any]:
    obj = kube.get(ObjectRef(RESOURCES_BY_ROLE[role], namespace, name))
    if obj is None:
        raise ObjectNotFoundError(
            f"{RESOURCES_BY_ROLE[role].kind}/{name} (namespace {namespace}) does not exist"
        )
    return obj


def capture_runtime_objects(
    kube: Kube, targets: RuntimeTargets, ta_keys: Iterable[str] = TA_KEYS
) -> list[ObjectCapture]:
    """The Knative Service env, the TA ConfigMap keys and the FlinkDeployment restart fields."""
    ns = targets.namespace
    service = _required(kube, "knative_service", ns, targets.torghut_service)
    container = jsonpointer.read(service, "/spec/template/spec/containers/0")
    if not container.present:
        raise ObjectNotFoundError(f"Knative Service {targets.torghut_service} has no container")
    configmap = _required(kube, "ta_configmap", ns, targets.ta_configmap)
    flink = _required(kube, "flink_deployment", ns, targets.ta_deployment)
    return [
        capture_object("knative_service", service, [ENV_POINTER], [CONTAINER_NAME_POINTER]),
        capture_object("ta_configmap", configmap, [configmap_pointer(k) for k in ta_keys]),
        capture_object("flink_deployment", flink, FLINK_FIELDS),
    ]


def capture_argocd_objects(kube: Kube, targets: RuntimeTargets) -> list[ObjectCapture]:
    """The AppSet element's automation (required) and the app's and root app's automated policy (if any)."""
    ns = targets.applicationset_namespace
    appset = _required(kube, "applicationset", ns, targets.applicationset_name)
    element = find_list_element(appset, targets.app_name)
    out = [
        capture_object("applicationset", appset, [element_automation_pointer(element)], [f"{element}/name"])
    ]
    app_roles: tuple[tuple[Role, str], ...] = (
        ("argocd_root", targets.root_app_name),
        ("argocd_app", targets.app_name),
    )
    for role, name in app_roles:
        app = kube.get(ObjectRef(APPLICATION, ns, name))
        if app is None:
            out.append(ObjectCapture(role=role, namespace=ns, name=name, exists=False))
        else:
            out.append(capture_object(role, app, [AUTOMATED_POINTER]))
    return out


def capture_state(
    kube: Kube, targets: RuntimeTargets, identity: RunIdentity, now: datetime | None = None
) -> RuntimeState:
    """Read every object a run will patch and return the state to persist (nothing is written here)."""
    objects = capture_argocd_objects(kube, targets) if targets.manage_argocd else []
    objects += capture_runtime_objects(kube, targets)
    return RuntimeState(
        run_id=identity.run_id,
        run_token=identity.run_token,
        dataset_id=identity.dataset_id,
        owner=identity.owner,
        captured_at=(now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        lock_namespace=targets.namespace,
        restore_mode_after_run=targets.restore_mode_after_run,
        objects=objects,
        run_secret=targets.run_secret,
    )


def load_or_capture(
    kube: Kube, state_path: Path, targets: RuntimeTargets, identity: RunIdentity
) -> RuntimeState:
    """The run's captured state: reused when this run already captured it, else captured and written now."""
    if state_path.exists():
        state = read_state(state_path)
        if state.run_id != identity.run_id or state.run_token != identity.run_token:
            raise StateOfOtherRunError(
                f"{state_path} was captured by run {state.run_id}; tear that run down before reusing it"
            )
        return state
    state = capture_state(kube, targets, identity)
    write_state(state_path, state)
    return state


def record_applied_env(state_path: Path, state: RuntimeState, env_sha256: str) -> RuntimeState:
    """Persist the fingerprint of the env applied to the runtime (so status/teardown can recognise it)."""
    updated = state.model_copy(update={"applied_env_sha256": env_sha256})
    write_state(state_path, updated)
    return updated


def unchanged_since_capture(capture: ObjectCapture, live: dict[str, Any] | None) -> bool:
    """True when the live object's whole spec (data for a ConfigMap) equals the captured fingerprint."""
    return live is not None and spec_fingerprint(capture.role, live) == capture.spec_sha256
