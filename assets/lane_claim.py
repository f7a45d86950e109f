"""The runtime lane a simulation runs on: claimed by its run lock, given back on an early failure."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg

from resources import KubernetesResource, SimulationConfigResource
from resources.simulation import DayRun
from torghut_sim.guards import guard_mutation, manifest_mutation
from torghut_sim.lanes import claim_lane, manifest_on_lane
from torghut_sim.manifest import DatasetManifest, load_manifest
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.lock import release_lock


@dataclass(frozen=True)
class LaneClaim:
    """The manifest pointed at the claimed lane, and the lane's name for the metadata."""

    manifest: DatasetManifest
    lane_name: str


def release_unstarted_claim(
    kubernetes: KubernetesResource, run: DayRun, manifest: DatasetManifest, identity: RunIdentity
) -> None:
    """Give back a claimed lane when the lifecycle failed before capturing anything to restore."""
    # With a capture on disk the lock stays: the failure sensor restores that state, then unlocks.
    if run.paths.state.exists():
        return
    with kubernetes.client() as kube:
        release_lock(kube, manifest.runtime.namespace, identity)


@contextmanager
def claimed_lane(
    context: dg.OpExecutionContext,
    config: SimulationConfigResource,
    kubernetes: KubernetesResource,
    run: DayRun,
    owner: str,
) -> Iterator[LaneClaim]:
    """The day's manifest on a free lane (the template's runtime when no lanes are configured)."""
    manifest = load_manifest(run.paths.manifest)
    # The manifest on disk is what runs: guarded again before a lane's lock is even claimed.
    guard_mutation(manifest_mutation(manifest, run.names, "simulate_day", allow_non_trading_day=True))
    lanes = config.lanes()
    if not lanes:
        yield LaneClaim(manifest, config.runtime_lane)
        return
    identity = RunIdentity(run.names.run_id, run.names.run_token, manifest.dataset_id, owner)
    with kubernetes.client() as kube:
        lane = claim_lane(
            kube,
            lanes,
            identity,
            first=run.day.toordinal(),
            wait_seconds=config.lane_wait_seconds,
            on_wait=context.log.info,
        )
    on_lane = manifest_on_lane(manifest, lane)
    context.log.info(f"runtime lane {lane.name}: {lane.namespace}/{lane.torghut_service}")
    try:
        yield LaneClaim(on_lane, lane.name)
    except BaseException:
        release_unstarted_claim(kubernetes, run, on_lane, identity)
        raise
