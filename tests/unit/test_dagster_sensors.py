"""The run-failure cleanup sensor and job, and the drift sensor, with built contexts and a fake cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from resources import ArgoCdResource, KubernetesResource, SimulationConfigResource
from resources.kubernetes import cluster_resources
from sensors.cleanup import (
    CLEANUP_JOB,
    CLEANUP_OP,
    RUN_DIR_TAG,
    build_cleanup_job,
    build_failure_sensor,
    on_failed_run,
)
from sensors.drift import runtime_drift_sensor
from torghut_sim.layout import RunPaths
from torghut_sim.runtime.argocd import AUTOMATED_POINTER, ArgoCd, Mode
from torghut_sim.runtime.cluster import RuntimeCluster
from torghut_sim.runtime.diff import FieldDifference
from torghut_sim.runtime.drift import DRIFT_REPORT_NAME, drift_report
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.knative import ENV_POINTER
from torghut_sim.runtime.kube_client import APPLICATION, ObjectRef
from torghut_sim.runtime.lock import lock_ref
from torghut_sim.runtime.model import ObjectCapture, RuntimeState, write_state

DAY = "2026-03-06"
TOKEN = "sim_20260306_01"


def _config(tmp_path: Path) -> SimulationConfigResource:
    return SimulationConfigResource(template_path="unused.yaml", output_root=str(tmp_path))


def _run_dir(tmp_path: Path, *files: str, owner: str = "dagster:r1") -> RunPaths:
    paths = RunPaths(tmp_path / TOKEN)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.run_state.write_text(
        json.dumps({"run_id": "sim-20260306-01", "status": "running", "transitions": []})
    )
    for name in files:
        # Captured state names the Dagster run that took it; other evidence files only need to exist.
        (paths.root / name).write_text(json.dumps({"owner": owner}) if name.startswith("state") else "{}")
    return paths


# --- failure sensor ---------------------------------------------------------------------------------


def test_a_failed_run_that_left_the_runtime_patched_gets_a_cleanup_run(tmp_path: Path) -> None:
    paths = _run_dir(tmp_path, "state.json")
    request = on_failed_run("simulate_trading_day", "r1", {"dagster/partition": DAY}, _config(tmp_path))
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "cleanup-r1"
    assert request.run_config == {"ops": {CLEANUP_OP: {"config": {"run_dir": str(paths.root)}}}}
    assert request.tags[RUN_DIR_TAG] == str(paths.root)


@pytest.mark.parametrize("files", [("state.restored.json",), ()])
def test_a_restored_or_never_patched_runtime_needs_nothing(tmp_path: Path, files: tuple[str, ...]) -> None:
    _run_dir(tmp_path, *files)
    result = on_failed_run("simulate_trading_day", "r1", {"dagster/partition": DAY}, _config(tmp_path))
    assert isinstance(result, dg.SkipReason)


def test_a_failed_run_that_does_not_hold_the_runtime_is_left_alone(tmp_path: Path) -> None:
    _run_dir(tmp_path, "state.json", owner="dagster:the-live-simulation")
    result = on_failed_run("__ASSET_JOB", "a-failed-dump", {"dagster/partition": DAY}, _config(tmp_path))
    assert isinstance(result, dg.SkipReason)
    assert "does not hold the captured runtime" in result.skip_message


def test_a_restore_required_marker_gets_a_cleanup_run(tmp_path: Path) -> None:
    _run_dir(tmp_path, "restore-required.json", "state.restored.json", owner="dagster:r2")
    result = on_failed_run("__ASSET_JOB", "r2", {"dagster/partition": DAY}, _config(tmp_path))
    assert isinstance(result, dg.RunRequest)


def test_an_unpartitioned_run_is_ignored(tmp_path: Path) -> None:
    assert isinstance(on_failed_run("other", "r3", {}, _config(tmp_path)), dg.SkipReason)


def test_a_failed_cleanup_marks_manual_cleanup_required(tmp_path: Path) -> None:
    paths = _run_dir(tmp_path, "state.json")
    result = on_failed_run(CLEANUP_JOB, "c1", {RUN_DIR_TAG: str(paths.root)}, _config(tmp_path))
    assert isinstance(result, dg.SkipReason)
    doc = json.loads(paths.run_state.read_text())
    assert doc["status"] == "manual_cleanup_required"
    assert doc["transitions"][-1]["details"]["cleanup_run"] == "c1"


def test_the_sensor_reacts_to_a_real_failed_partition_run(tmp_path: Path) -> None:
    partitions = dg.DailyPartitionsDefinition(start_date="2026-03-01")

    @dg.asset(partitions_def=partitions)
    def simulation_outputs() -> None:
        raise RuntimeError("the runtime went away")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([simulation_outputs], partition_key=DAY, instance=instance, raise_on_error=False)
    assert not result.success
    paths = _run_dir(tmp_path, "state.json", owner=f"dagster:{result.dagster_run.run_id}")
    sensor = build_failure_sensor(build_cleanup_job("torghut_runtime_test"))
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"simulation_config": _config(tmp_path)},
    ).for_run_failure()
    request = sensor(context)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config["ops"][CLEANUP_OP]["config"]["run_dir"] == str(paths.root)


def test_the_cleanup_job_does_nothing_for_a_restored_run(tmp_path: Path) -> None:
    paths = _run_dir(tmp_path, "state.restored.json")
    job = build_cleanup_job("torghut_runtime_test")
    result = job.execute_in_process(
        run_config={"ops": {CLEANUP_OP: {"config": {"run_dir": str(paths.root)}}}},
        resources=cluster_resources(str(tmp_path / "absent"), "torghut"),
    )
    assert result.output_for_node(CLEANUP_OP) == "already_restored"


def test_the_cleanup_job_retries_a_bounded_number_of_times_in_the_runtime_pool() -> None:
    job = build_cleanup_job("torghut_runtime_test")
    op = job.graph.node_named(CLEANUP_OP).definition
    assert op.retry_policy is not None and op.retry_policy.max_retries == 2
    assert op.pool == "torghut_runtime_test"
    assert job.tags["dagster/max_retries"] == "0"


# --- drift sensor -----------------------------------------------------------------------------------


class FakeKube:
    """Objects by REST path; enough of `Kube` for reading."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        return self.objects.get(ref.resource.path(ref.namespace, ref.name))

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeKube:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


CLUSTERS: dict[str, FakeKube] = {}


class FakeKubernetes(KubernetesResource):
    """The Kubernetes resource with a fake cluster behind it."""

    def client(self) -> Any:
        return CLUSTERS[self.kubeconfig]


def _fake_cluster(kubeconfig: str, argocd: type[ArgoCdResource] = ArgoCdResource) -> dict[str, Any]:
    """The `kubernetes` and `argocd` resources over a fake cluster, nested as the code location nests them."""
    kubernetes = FakeKubernetes.configure_at_launch(kubeconfig=kubeconfig)
    return {"kubernetes": kubernetes, "argocd": argocd(kubernetes=kubernetes)}


BASELINE_ENV = [{"name": "TRADING_MODE", "value": "live"}, {"name": "LOG_LEVEL", "value": "info"}]


def _baseline(
    tmp_path: Path, run_token: str = "sim_20260305_01", captured_at: str = "2026-03-06T01:00:00Z"
) -> None:
    state = RuntimeState(
        run_id=run_token.replace("_", "-"),
        run_token=run_token,
        dataset_id="torghut-trades-20260305",
        owner="dagster:x",
        captured_at=captured_at,
        lock_namespace="torghut",
        objects=[
            ObjectCapture(
                role="knative_service",
                namespace="torghut",
                name="torghut-sim",
                exists=True,
                fields={ENV_POINTER: Captured.of(BASELINE_ENV)},
            ),
            ObjectCapture(
                role="argocd_app",
                namespace="argocd",
                name="torghut",
                exists=True,
                fields={AUTOMATED_POINTER: Captured.of({"prune": True, "selfHeal": True})},
            ),
        ],
    )
    write_state(tmp_path / run_token / "state.restored.json", state)


def _cluster(env: list[dict[str, str]], automated: bool, locked: bool = False) -> FakeKube:
    service = {"spec": {"template": {"spec": {"containers": [{"name": "user-container", "env": env}]}}}}
    app: dict[str, Any] = {
        "spec": {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}} if automated else {}}
    }
    objects = {
        "/apis/serving.knative.dev/v1/namespaces/torghut/services/torghut-sim": service,
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/torghut": app,
    }
    if locked:
        ref = lock_ref("torghut")
        objects[ref.resource.path(ref.namespace, ref.name)] = {
            "metadata": {"resourceVersion": "7"},
            "data": {
                "run_id": "sim-20260309-01",
                "run_token": "sim_20260309_01",
                "owner": "dagster:y",
                "dataset_id": "torghut-trades-20260309",
                "acquired_at": "2026-03-10T01:00:00Z",
            },
        }
    return FakeKube(objects)


def test_a_runtime_matching_its_baseline_shows_no_drift(tmp_path: Path) -> None:
    _baseline(tmp_path)
    report = drift_report(_cluster(BASELINE_ENV, automated=True), "torghut", tmp_path)  # type: ignore[arg-type]
    assert report.baseline is not None and not report.drifted


def test_drift_names_the_changed_variable_and_argo_automation(tmp_path: Path) -> None:
    _baseline(tmp_path, "sim_20260304_01", "2026-03-05T01:00:00Z")
    _baseline(tmp_path)  # the newer capture is the baseline
    live_env = [{"name": "TRADING_MODE", "value": "live"}, {"name": "LOG_LEVEL", "value": "debug"}]
    report = drift_report(_cluster(live_env, automated=False), "torghut", tmp_path)  # type: ignore[arg-type]
    assert report.drifted
    assert report.captured_at == "2026-03-06T01:00:00Z"
    (changes,) = report.runtime.values()
    assert [c["name"] for c in changes] == ["LOG_LEVEL"]
    assert [d["pointer"] for d in report.argocd] == [AUTOMATED_POINTER]


def test_drift_is_not_judged_while_a_simulation_holds_the_lock(tmp_path: Path) -> None:
    _baseline(tmp_path)
    report = drift_report(_cluster([], automated=False, locked=True), "torghut", tmp_path)  # type: ignore[arg-type]
    assert report.lock_holder is not None and not report.drifted
    assert "holds the runtime" in report.summary()


def test_the_drift_sensor_reports_and_writes_its_evidence(tmp_path: Path) -> None:
    _baseline(tmp_path)
    CLUSTERS["fake-drift"] = _cluster([], automated=True)
    with dg.build_sensor_context(
        resources={"simulation_config": _config(tmp_path), **_fake_cluster("fake-drift")}
    ) as context:
        result = runtime_drift_sensor(context)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message is not None and result.skip_message.startswith("DRIFT")
    written = json.loads((tmp_path / DRIFT_REPORT_NAME).read_text())
    assert written["drifted"] is True
    assert written["baseline"].endswith("sim_20260305_01/state.restored.json")


# Every Argo CD comparison the swapped-in handle was asked for, by mode.
ARGO_COMPARISONS: list[str] = []
APP_REF = ObjectRef(APPLICATION, "argocd", "torghut")


class RecordingArgoCd(ArgoCd):
    """Argo CD as this test sees it: every comparison recorded, and one difference the cluster lacks."""

    def differences(self, state: RuntimeState, mode: Mode) -> list[FieldDifference]:
        ARGO_COMPARISONS.append(mode)
        return [
            FieldDifference(APP_REF, AUTOMATED_POINTER, Captured.of({"selfHeal": True}), Captured.absent())
        ]


class RecordingArgoCdResource(ArgoCdResource):
    """The `argocd` resource handing out the recording handle on the same (fake) cluster."""

    def cluster(self) -> RuntimeCluster:
        kube = self.kubernetes.client()
        return RuntimeCluster(kube, RecordingArgoCd(kube))


def test_the_drift_sensor_judges_argo_cd_through_the_argocd_resource(tmp_path: Path) -> None:
    """Swapping `argocd` the Dagster way swaps what the domain's drift comparison asks about Argo CD."""
    _baseline(tmp_path)
    CLUSTERS["fake-argo"] = _cluster(BASELINE_ENV, automated=True)  # the real handle would see no drift
    ARGO_COMPARISONS.clear()
    resources = {
        "simulation_config": _config(tmp_path),
        **_fake_cluster("fake-argo", RecordingArgoCdResource),
    }
    with dg.build_sensor_context(resources=resources) as context:
        result = runtime_drift_sensor(context)
    assert ARGO_COMPARISONS == ["previous"]
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message is not None and result.skip_message.startswith("DRIFT")
    written = json.loads((tmp_path / DRIFT_REPORT_NAME).read_text())
    assert written["runtime"] == {}
    assert [d["object"] for d in written["argocd"]] == [APP_REF.describe()]
