"""The plain inputs of runtime control: which objects to touch, who the run is, and what to set.

Deliberately independent of the dataset manifest model, so the pipeline can build these from it.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from torghut_sim.errors import TorghutSimError

ArgoMode = Literal["manual", "auto"]
RestoreMode = Literal["previous", "manual", "auto"]
ARGO_MODES: tuple[str, ...] = ("manual", "auto")
RESTORE_MODES: tuple[str, ...] = ("previous", "manual", "auto")


class InvalidRuntimeInputError(TorghutSimError):
    """A runtime-control input is malformed."""

    reason = "invalid_runtime_input"


@dataclass(frozen=True)
class RuntimeTargets:
    """The cluster objects a run patches, and how Argo CD is handled around it."""

    namespace: str = "torghut"
    ta_configmap: str = "torghut-ta-sim-config"
    ta_deployment: str = "torghut-ta-sim"
    torghut_service: str = "torghut-sim"
    manage_argocd: bool = True
    applicationset_name: str = "product"
    applicationset_namespace: str = "argocd"
    app_name: str = "torghut"
    # The app-of-apps that owns the ApplicationSet; frozen too so it does not revert the AppSet edit.
    root_app_name: str = "root"
    desired_mode_during_run: ArgoMode = "manual"
    restore_mode_after_run: RestoreMode = "previous"
    # How long the frozen mode may take to show on every Argo object before the run gives up.
    argocd_verify_timeout_seconds: float = 600.0
    # The Secret in `namespace` that hands the runtime its database DSN by reference.
    run_secret: str = "torghut-sim-runtime-db"

    def __post_init__(self) -> None:
        if self.desired_mode_during_run not in ARGO_MODES:
            raise InvalidRuntimeInputError(f"desired_mode_during_run must be one of {ARGO_MODES}")
        if self.restore_mode_after_run not in RESTORE_MODES:
            raise InvalidRuntimeInputError(f"restore_mode_after_run must be one of {RESTORE_MODES}")


def default_owner() -> str:
    """`user@host:pid` of this process: who holds a lock."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class RunIdentity:
    """The run: ids that go into the lock and the state, and the owner that may release the lock."""

    run_id: str
    run_token: str
    dataset_id: str
    owner: str = field(default_factory=default_owner)

    def __post_init__(self) -> None:
        for name in ("run_id", "run_token", "dataset_id", "owner"):
            if not getattr(self, name):
                raise InvalidRuntimeInputError(f"{name} must not be empty")


@dataclass(frozen=True)
class SimulationValues:
    """What the run sets: TA ConfigMap keys and the runtime container env (already validated)."""

    ta_config: Mapping[str, str]
    torghut_env: Mapping[str, str]
