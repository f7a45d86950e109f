"""A day's claim on a runtime lane: its guarded manifest on a free lane, given back on early failure."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from torghut_sim.guards import guard_mutation, manifest_mutation
from torghut_sim.lanes import RuntimeLane, claim_lane, manifest_on_lane
from torghut_sim.layout import RunPaths
from torghut_sim.manifest import DatasetManifest, load_manifest
from torghut_sim.naming import RunNames
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import release_lock


@dataclass(frozen=True)
class LaneClaim:
    """The manifest pointed at the claimed lane, and the lane's name for the metadata."""

    manifest: DatasetManifest
    lane_name: str


@dataclass(frozen=True)
class LaneRequest:
    """Who claims, for which day, among which lanes (None: the template's runtime, `default_lane`)."""

    paths: RunPaths
    names: RunNames
    day: date
    owner: str
    lanes: Sequence[RuntimeLane] | None
    default_lane: str
    wait_seconds: float


def release_unstarted_claim(
    kube_client: Callable[[], Kube], paths: RunPaths, manifest: DatasetManifest, identity: RunIdentity
) -> None:
    """Give back a claimed lane when the lifecycle failed before capturing anything to restore."""
    # With a capture on disk the lock stays: the failure sensor restores that state, then unlocks.
    if paths.state.exists():
        return
    with kube_client() as kube:
        release_lock(kube, manifest.runtime.namespace, identity)


@contextmanager
def claimed_lane(
    request: LaneRequest, kube_client: Callable[[], Kube], log: Callable[[str], None]
) -> Iterator[LaneClaim]:
    """The day's manifest on a free lane (the template's runtime when no lanes are configured)."""
    manifest = load_manifest(request.paths.manifest)
    names = request.names
    # The manifest on disk is what runs: guarded again before a lane's lock is even claimed.
    guard_mutation(manifest_mutation(manifest, names, "simulate_day", allow_non_trading_day=True))
    if not request.lanes:
        yield LaneClaim(manifest, request.default_lane)
        return
    identity = RunIdentity(names.run_id, names.run_token, manifest.dataset_id, request.owner)
    with kube_client() as kube:
        lane = claim_lane(
            kube,
            request.lanes,
            identity,
            first=request.day.toordinal(),
            wait_seconds=request.wait_seconds,
            on_wait=log,
        )
    on_lane = manifest_on_lane(manifest, lane)
    log(f"runtime lane {lane.name}: {lane.namespace}/{lane.torghut_service}")
    try:
        yield LaneClaim(on_lane, lane.name)
    except BaseException:
        release_unstarted_claim(kube_client, request.paths, on_lane, identity)
        raise
