"""Runtime lanes against the real Kubernetes API server: claiming free lanes by their run locks, and two
days materialized at once through Dagster landing on two lanes that each serve one day at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from unit.run_clients_fake import FakeEnvRunClients
from unit.test_dagster_assets import PARTITIONS, FakeLifecycle, _fake_dump

import torghut_sim.day_dump
from assets.dump import build_dump_assets
from assets.manifest import build_manifest_assets
from assets.simulation import build_simulation_assets
from resources import DeploymentSettings, build_resources
from torghut_sim.day_template import LOCAL_TEMPLATE
from torghut_sim.lanes import LanesBusyError, RuntimeLane, claim_lane
from torghut_sim.lifecycle import SimulationOutcome, SimulationRequest
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import read_lock, release_lock


def _create_namespace(kube: Kube, name: str) -> None:
    from kubernetes import client

    client.CoreV1Api(kube.api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )


@pytest.fixture
def lanes(kube_service: Any, unique_name: str) -> Iterator[tuple[Kube, list[RuntimeLane]]]:
    """Two lanes in two fresh namespaces of the real API server."""
    kube = Kube.from_kubeconfig(Path(kube_service.kubeconfig_path))
    base = unique_name.replace("_", "-")[:40]
    made = []
    for name in ("a", "b"):
        namespace = f"{base}-{name}"
        _create_namespace(kube, namespace)
        made.append(
            RuntimeLane(
                name=name,
                namespace=namespace,
                torghut_service=f"torghut-sim-{name}",
                ta_configmap=f"ta-{name}",
                ta_deployment=f"ta-{name}",
            )
        )
    try:
        yield kube, made
    finally:
        kube.close()


def _who(n: int) -> RunIdentity:
    return RunIdentity(f"sim-2026030{n}-01", f"sim_2026030{n}_01", f"ds-{n}", f"dagster:run-{n}")


def test_claims_take_free_lanes_resume_their_own_and_wait_when_all_are_held(
    lanes: tuple[Kube, list[RuntimeLane]],
) -> None:
    kube, pair = lanes
    assert claim_lane(kube, pair, _who(1)).name == "a"
    # The same starting lane, taken: the next one is claimed instead of waiting.
    assert claim_lane(kube, pair, _who(2)).name == "b"
    assert read_lock(kube, pair[1].namespace).run_id == _who(2).run_id  # type: ignore[union-attr]
    # A resumed run finds the lane it holds, even when asked to start elsewhere.
    assert claim_lane(kube, pair, _who(2), first=0).name == "b"
    with pytest.raises(LanesBusyError) as busy:
        claim_lane(kube, pair, _who(3), wait_seconds=0)
    assert busy.value.reason == "runtime_lanes_busy"
    assert _who(1).run_id in busy.value.message and _who(2).run_id in busy.value.message

    waits: list[str] = []

    def free_a(_seconds: float) -> None:
        # Stands in for run 1 finishing while run 3 waits.
        release_lock(kube, pair[0].namespace, _who(1))

    lane = claim_lane(kube, pair, _who(3), wait_seconds=60, sleep=free_a, on_wait=waits.append)
    assert lane.name == "a" and len(waits) == 1 and "every runtime lane is held" in waits[0]
    assert read_lock(kube, pair[0].namespace).owner == _who(3).owner  # type: ignore[union-attr]


class LaneRecorder(FakeLifecycle):
    """A lifecycle that holds its lane a while, records when and where, then unlocks as a real run does."""

    def __init__(self, kubeconfig: Path, hold_seconds: float, fail: bool = False) -> None:
        super().__init__()
        self.kubeconfig = kubeconfig
        self.hold = hold_seconds
        self.fail = fail
        self.spans: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()

    def __call__(self, request: SimulationRequest) -> SimulationOutcome:
        namespace = request.manifest.runtime.namespace
        with Kube.from_kubeconfig(self.kubeconfig) as kube:
            holder = read_lock(kube, namespace)
            assert holder is not None and holder.owner == request.owner, "the step claimed the lane first"
            began = time.monotonic()
            time.sleep(self.hold)
            if self.fail:
                raise RuntimeError("preflight failed before anything was captured")
            outcome = super().__call__(request)
            release_lock(
                kube,
                namespace,
                RunIdentity(
                    request.names.run_id, request.names.run_token, request.manifest.dataset_id, request.owner
                ),
            )
        with self.lock:
            self.spans.append((namespace, began, time.monotonic()))
        return outcome


def _write_lanes(path: Path, pair: list[RuntimeLane]) -> Path:
    path.write_text(yaml.safe_dump({"lanes": [lane.model_dump() for lane in pair]}))
    return path


def _defs(lifecycle: Any) -> list[Any]:
    return [
        *build_manifest_assets(PARTITIONS),
        *build_dump_assets(PARTITIONS),
        *build_simulation_assets(PARTITIONS, "torghut_runtime_test", lifecycle),
    ]


def _resources(tmp_path: Path, kubeconfig: str, lanes_file: Path) -> dict[str, Any]:
    settings = DeploymentSettings(
        template_path=str(LOCAL_TEMPLATE),
        output_root=str(tmp_path / "out"),
        kubeconfig=kubeconfig,
        runtime_lanes_file=str(lanes_file),
    )
    # The lifecycle is recorded, not run: its clients need no real secrets.
    return {**build_resources(settings), "run_clients": FakeEnvRunClients()}


def test_two_days_at_once_run_side_by_side_on_two_lanes(
    lanes: tuple[Kube, list[RuntimeLane]],
    kube_service: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kube, pair = lanes
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    kubeconfig = str(kube_service.kubeconfig_path)
    recorder = LaneRecorder(Path(kubeconfig), hold_seconds=3.0)
    resources = _resources(tmp_path, kubeconfig, _write_lanes(tmp_path / "lanes.yaml", pair))
    results: dict[str, Any] = {}

    def materialize(day: str) -> None:
        results[day] = dg.materialize(
            _defs(recorder), partition_key=day, resources=resources, raise_on_error=False
        )

    threads = [threading.Thread(target=materialize, args=(d,)) for d in ("2026-03-05", "2026-03-06")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(r.success for r in results.values()), results
    spans = sorted(recorder.spans)
    assert [s[0] for s in spans] == sorted(lane.namespace for lane in pair)
    # Side by side: each day held its own lane while the other day held the other one.
    (_a, a0, a1), (_b, b0, b1) = spans
    assert a0 < b1 and b0 < a1
    lane_names = set()
    for result in results.values():
        for event in result.all_events:
            if event.event_type_value == "ASSET_MATERIALIZATION" and (
                event.asset_key.to_user_string() == "simulation_outputs"
            ):
                lane_names.add(event.materialization.metadata["runtime_lane"].value)
    assert lane_names == {"a", "b"}
    assert all(read_lock(kube, lane.namespace) is None for lane in pair)


def test_a_lifecycle_failing_before_its_capture_gives_the_lane_back(
    lanes: tuple[Kube, list[RuntimeLane]],
    kube_service: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kube, pair = lanes
    monkeypatch.setattr(torghut_sim.day_dump, "dump_source", _fake_dump(1.0, 1000))
    kubeconfig = str(kube_service.kubeconfig_path)
    recorder = LaneRecorder(Path(kubeconfig), hold_seconds=0.1, fail=True)
    resources = _resources(tmp_path, kubeconfig, _write_lanes(tmp_path / "lanes.yaml", pair))
    result = dg.materialize(
        _defs(recorder), partition_key="2026-03-06", resources=resources, raise_on_error=False
    )
    assert not result.success
    assert all(read_lock(kube, lane.namespace) is None for lane in pair)
