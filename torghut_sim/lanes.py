"""Runtime lanes: the dedicated runtimes one deployment may simulate on at once, and claiming a free one.

A lane is one runtime service with its own TA job, in its own namespace, because the run lock is one
ConfigMap per runtime namespace. A day's simulation claims a lane by taking that lock (the lifecycle
then finds its own lock and reuses it), so two days never share a runtime while several lanes let
days run side by side. Argo CD's app-of-apps is shared by every lane, and a second concurrent freeze
would capture the first one's "manual" as the mode to restore; so at most one lane manages Argo CD.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from torghut_sim.errors import TorghutSimError
from torghut_sim.guards.runtime import check_runtime_target
from torghut_sim.manifest import DatasetManifest
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import LockHeldError, LockInfo, acquire_lock, read_lock

_NAME = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"


class LanesConfigError(TorghutSimError):
    """The lanes file cannot be used: unreadable, malformed, or lanes that would collide."""

    reason = "runtime_lanes_invalid"


class LanesBusyError(TorghutSimError):
    """Every lane stayed held by other runs for the whole wait."""

    reason = "runtime_lanes_busy"


class RuntimeLane(BaseModel):
    """One dedicated runtime: where it lives and whether its run freezes Argo CD."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    namespace: str = Field(pattern=_NAME)
    torghut_service: str = Field(min_length=1)
    ta_configmap: str = Field(min_length=1)
    ta_deployment: str = Field(min_length=1)
    manage_argocd: bool = False
    # The Argo CD app (ApplicationSet element) that deploys this lane's runtime; None keeps the manifest's.
    argocd_app_name: str | None = None


def validate_lanes(lanes: Sequence[RuntimeLane]) -> None:
    """Refuse lanes that share a name, a lock namespace or Argo CD, or that target production."""
    if not lanes:
        raise LanesConfigError("the lanes file lists no lane")
    for attr in ("name", "namespace"):
        values = [getattr(lane, attr) for lane in lanes]
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            why = " (the run lock is one per namespace)" if attr == "namespace" else ""
            raise LanesConfigError(f"lanes share the {attr} {', '.join(repeated)}{why}")
    managing = [lane.name for lane in lanes if lane.manage_argocd]
    if len(managing) > 1:
        raise LanesConfigError(
            f"lanes {', '.join(managing)} all manage Argo CD; at most one may, because concurrent "
            "freezes of the shared app-of-apps would restore each other's frozen mode"
        )
    for lane in lanes:
        check_runtime_target(lane.torghut_service)


def parse_lanes(data: Any, source: str) -> list[RuntimeLane]:
    """Lanes from the decoded lanes file (`{"lanes": [...]}`), validated."""
    items = data.get("lanes") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise LanesConfigError(f"{source}: expected a mapping with a `lanes` list")
    lanes: list[RuntimeLane] = []
    for index, item in enumerate(items):
        try:
            lanes.append(RuntimeLane.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (index, *first["loc"]))
            raise LanesConfigError(f"{source}: lanes.{where}: {first['msg']}") from None
    validate_lanes(lanes)
    return lanes


def load_lanes(path: Path) -> list[RuntimeLane]:
    """The lanes of a YAML lanes file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LanesConfigError(f"cannot read the lanes file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise LanesConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_lanes(data, str(path))


def manifest_on_lane(manifest: DatasetManifest, lane: RuntimeLane) -> DatasetManifest:
    """The manifest with its runtime section (and Argo CD handling) pointed at `lane`."""
    runtime = manifest.runtime.model_copy(
        update={
            "namespace": lane.namespace,
            "torghut_service": lane.torghut_service,
            "ta_configmap": lane.ta_configmap,
            "ta_deployment": lane.ta_deployment,
        }
    )
    argo_update: dict[str, Any] = {"manage_automation": lane.manage_argocd}
    if lane.argocd_app_name is not None:
        argo_update["app_name"] = lane.argocd_app_name
    argocd = manifest.argocd.model_copy(update=argo_update)
    return manifest.model_copy(update={"runtime": runtime, "argocd": argocd})


def _rotation(lanes: Sequence[RuntimeLane], first: int) -> list[RuntimeLane]:
    start = first % len(lanes)
    return [*lanes[start:], *lanes[:start]]


def claim_lane(
    kube: Kube,
    lanes: Sequence[RuntimeLane],
    identity: RunIdentity,
    *,
    first: int = 0,
    wait_seconds: float = 600.0,
    poll_seconds: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_wait: Callable[[str], None] | None = None,
) -> RuntimeLane:
    """Take the run lock of a free lane (trying from lane `first` on), or the one this run already holds."""
    # A resumed run finds its own lock first, so it never holds two lanes.
    for lane in lanes:
        holder = read_lock(kube, lane.namespace)
        if holder is not None and _is(holder, identity):
            return lane
    deadline = clock() + wait_seconds
    while True:
        holders: list[str] = []
        for lane in _rotation(lanes, first):
            try:
                acquire_lock(kube, lane.namespace, identity)
            except LockHeldError as exc:
                holders.append(f"{lane.name}: {exc.holder.describe()}")
                continue
            return lane
        if clock() >= deadline:
            raise LanesBusyError(
                f"no runtime lane came free within {wait_seconds:.0f}s; held: {'; '.join(holders)}"
            )
        if on_wait is not None:
            on_wait(f"every runtime lane is held ({'; '.join(holders)}); retrying in {poll_seconds:.0f}s")
        sleep(poll_seconds)


def _is(holder: LockInfo, identity: RunIdentity) -> bool:
    return holder.run_id == identity.run_id and holder.owner == identity.owner
