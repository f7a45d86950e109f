"""The captured pre-run state (`state.json`): every field a run patches, as it was, per object.

This file alone is enough to restore the cluster after a crash. It holds field values the run will
overwrite (which are the deployment's own GitOps values) and only SHA-256 fingerprints of whole specs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from torghut_sim.atomic_file import write_json_atomic
from torghut_sim.errors import TorghutSimError
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.kube_client import (
    APPLICATION,
    APPLICATIONSET,
    CONFIGMAP,
    FLINK_DEPLOYMENT,
    KNATIVE_SERVICE,
    ObjectRef,
    Resource,
)

STATE_SCHEMA = "torghut-sim.runtime-state.v1"
Role = Literal[
    "knative_service", "ta_configmap", "flink_deployment", "argocd_app", "argocd_root", "applicationset"
]
RUNTIME_ROLES: tuple[Role, ...] = ("knative_service", "ta_configmap", "flink_deployment")
# Argo objects are frozen outermost first (root, AppSet, app) and restored in the reverse order.
ARGO_FREEZE_ORDER: tuple[Role, ...] = ("argocd_root", "applicationset", "argocd_app")
RESOURCES_BY_ROLE: dict[Role, Resource] = {
    "knative_service": KNATIVE_SERVICE,
    "ta_configmap": CONFIGMAP,
    "flink_deployment": FLINK_DEPLOYMENT,
    "argocd_app": APPLICATION,
    "argocd_root": APPLICATION,
    "applicationset": APPLICATIONSET,
}


class StateFileError(TorghutSimError):
    """state.json is missing, unreadable or belongs to another run."""

    reason = "state_file_invalid"


class ObjectCapture(BaseModel):
    """One object: whether it existed, a fingerprint of its whole spec, and each patched field as it was."""

    model_config = ConfigDict(frozen=True)

    role: Role
    namespace: str
    name: str
    exists: bool
    spec_sha256: str | None = None
    fields: dict[str, Captured] = {}
    # Fields that only guard a patch (e.g. the container or element name): checked, never changed.
    guards: dict[str, Captured] = {}

    @property
    def ref(self) -> ObjectRef:
        """The object's address."""
        return ObjectRef(RESOURCES_BY_ROLE[self.role], self.namespace, self.name)


class RuntimeState(BaseModel):
    """Everything captured before the first mutation of a run."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal["torghut-sim.runtime-state.v1"] = "torghut-sim.runtime-state.v1"
    run_id: str
    run_token: str
    dataset_id: str
    owner: str
    captured_at: str
    lock_namespace: str
    restore_mode_after_run: Literal["previous", "manual", "auto"] = "previous"
    objects: list[ObjectCapture]
    # Fingerprint of the runtime env the run applied (never the values: they include the simulation DSN).
    applied_env_sha256: str | None = None
    # The Secret the run writes the DSN into (in lock_namespace) and deletes at teardown; None: a state
    # captured before the DSN went by reference.
    run_secret: str | None = None

    def by_role(self, role: Role) -> ObjectCapture | None:
        """The captured object of a role, if captured."""
        return next((o for o in self.objects if o.role == role), None)

    def require_role(self, role: Role) -> ObjectCapture:
        """The captured object of a role; absent is a corrupt state file."""
        found = self.by_role(role)
        if found is None:
            raise StateFileError(f"state.json has no captured {role}")
        return found


def write_state(path: Path, state: RuntimeState) -> None:
    """Write state.json atomically (a crash never leaves half a restore source)."""
    write_json_atomic(path, state.model_dump(mode="json"), fsync=True)


def read_state(path: Path) -> RuntimeState:
    """Load state.json; a missing or malformed file is a StateFileError."""
    try:
        return RuntimeState.model_validate_json(path.read_text())
    except FileNotFoundError as exc:
        raise StateFileError(f"no captured state at {path}: nothing was patched by this run") from exc
    except (OSError, ValidationError, ValueError) as exc:
        raise StateFileError(f"cannot read captured state {path}: {exc}") from exc
