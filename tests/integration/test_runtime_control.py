"""Runtime control against the real Kubernetes API server: capture, apply, restore, lock, crash recovery.

Each test loads the real gitops fixtures into its own namespaces. A background thread stands in for the
Knative and Flink controllers by writing the status subresources, as the real controllers would.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import pytest
import yaml

from tests.integration._tcp_proxy import TcpProxy, free_port
from torghut_sim.cli import main as cli_main
from torghut_sim.layout import RunPaths
from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.argocd import find_list_element
from torghut_sim.runtime.controller import ControlSettings, RuntimeController
from torghut_sim.runtime.inputs import RunIdentity, RuntimeTargets, SimulationValues
from torghut_sim.runtime.knative import SimulationEnvInputs, simulation_env
from torghut_sim.runtime.kube_client import (
    APPLICATION,
    APPLICATIONSET,
    CONFIGMAP,
    FLINK_DEPLOYMENT,
    KNATIVE_SERVICE,
    Kube,
    ObjectRef,
    PatchConflictError,
)
from torghut_sim.runtime.lock import (
    LOCK_NAME,
    LockHeldError,
    LockLostError,
    LockNotOwnedError,
    StaleLockError,
    acquire_lock,
    read_lock,
    release_lock,
    renew_lock,
)
from torghut_sim.runtime.restore_status import restore_state
from torghut_sim.runtime.run_secret import RUN_SECRET_NAME, secret_ref
from torghut_sim.runtime.state_machine import (
    CLEANUP_PHASES,
    MAIN_PHASES,
    PhaseFailedError,
    Phases,
    RunStateLog,
    controller_phases,
    run_phases,
)
from torghut_sim.runtime.ta import ta_config_values

SECRET = "pw-never-recorded-9f1"
DSN = f"postgresql://torghut:{SECRET}@127.0.0.1:55432/torghut_sim_run"
AUTOMATED = {"prune": True, "selfHeal": True}
DSN_REF = {"name": RUN_SECRET_NAME, "key": "DB_DSN"}


@dataclasses.dataclass
class Cluster:
    """One test's isolated copy of the deployment: runtime and Argo CD namespaces with the fixtures."""

    kube: Kube
    kubeconfig: Path
    runtime_ns: str
    argo_ns: str
    targets: RuntimeTargets

    def refs(self) -> dict[str, ObjectRef]:
        t = self.targets
        return {
            "appset": ObjectRef(APPLICATIONSET, self.argo_ns, t.applicationset_name),
            "app": ObjectRef(APPLICATION, self.argo_ns, t.app_name),
            "root": ObjectRef(APPLICATION, self.argo_ns, t.root_app_name),
            "ta_configmap": ObjectRef(CONFIGMAP, self.runtime_ns, t.ta_configmap),
            "flink": ObjectRef(FLINK_DEPLOYMENT, self.runtime_ns, t.ta_deployment),
            "knative": ObjectRef(KNATIVE_SERVICE, self.runtime_ns, t.torghut_service),
        }

    def snapshot(self) -> dict[str, Any]:
        """The whole spec (data for the ConfigMap) of every object a run touches."""
        out: dict[str, Any] = {}
        for key, ref in self.refs().items():
            obj = self.kube.require(ref)
            out[key] = copy.deepcopy(obj.get("data") if key == "ta_configmap" else obj.get("spec"))
        return out

    def lock(self) -> Any:
        return read_lock(self.kube, self.runtime_ns)


def _create_namespace(kube: Kube, name: str) -> None:
    from kubernetes import client

    client.CoreV1Api(kube.api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )


def _load(kube: Kube, resource: Any, namespace: str, doc: dict[str, Any]) -> None:
    body = {k: v for k, v in doc.items() if k not in ("status", "apiVersion", "kind")}
    body["metadata"] = {k: v for k, v in doc["metadata"].items() if k != "namespace"}
    kube.create(ObjectRef(resource, namespace, doc["metadata"]["name"]), body)


@pytest.fixture
def cluster(kube_service: Any, upstream_dir: Path, unique_name: str) -> Iterator[Cluster]:
    """The real fixtures (plus Application/torghut and Application/root, auto-synced) in fresh namespaces."""
    kubeconfig = Path(kube_service.kubeconfig_path)
    kube = Kube.from_kubeconfig(kubeconfig)
    base = unique_name.replace("_", "-")[:50]
    runtime_ns, argo_ns = f"{base}-rt", f"{base}-ar"
    _create_namespace(kube, runtime_ns)
    _create_namespace(kube, argo_ns)
    gitops = upstream_dir / "gitops"

    def doc(name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load((gitops / name).read_text())
        return loaded

    _load(kube, APPLICATIONSET, argo_ns, doc("applicationset-product.yaml"))
    _load(kube, CONFIGMAP, runtime_ns, doc("ta-sim-configmap.yaml"))
    _load(kube, FLINK_DEPLOYMENT, runtime_ns, doc("ta-sim-flinkdeployment.yaml"))
    _load(kube, KNATIVE_SERVICE, runtime_ns, doc("knative-service-torghut-sim.yaml"))
    for name, extra in (("torghut", {"syncOptions": ["ServerSideApply=true"]}), ("root", {})):
        _load(
            kube,
            APPLICATION,
            argo_ns,
            {
                "metadata": {"name": name},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": "https://example.invalid/lab.git", "path": f"argocd/{name}"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": runtime_ns},
                    "syncPolicy": {"automated": dict(AUTOMATED), **extra},
                },
            },
        )
    targets = RuntimeTargets(namespace=runtime_ns, applicationset_namespace=argo_ns)
    try:
        yield Cluster(kube, kubeconfig, runtime_ns, argo_ns, targets)
    finally:
        kube.close()


class BackgroundController:
    """A stand-in controller: `_loop` runs in a thread while the `with` block runs, until `stop` is set."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        raise NotImplementedError


class FakeControllers(BackgroundController):
    """Acts as the Knative and Flink controllers: reports each new generation as ready/running."""

    def _loop(self) -> None:
        kube = Kube.from_kubeconfig(self.cluster.kubeconfig)
        refs = self.cluster.refs()
        while not self.stop.wait(0.1):
            try:
                self._reconcile_knative(kube, refs["knative"])
                self._reconcile_flink(kube, refs["flink"])
            except PatchConflictError:
                continue
        kube.close()

    @staticmethod
    def _reconcile_knative(kube: Kube, ref: ObjectRef) -> None:
        obj = kube.require(ref)
        generation = obj["metadata"]["generation"]
        if (obj.get("status") or {}).get("observedGeneration") == generation:
            return
        revision = f"{ref.name}-{generation:05d}"
        kube.merge_patch(
            ref,
            {
                "status": {
                    "observedGeneration": generation,
                    "latestCreatedRevisionName": revision,
                    "latestReadyRevisionName": revision,
                    "conditions": [{"type": "Ready", "status": "True"}],
                }
            },
            subresource="status",
        )

    @staticmethod
    def _reconcile_flink(kube: Kube, ref: ObjectRef) -> None:
        obj = kube.require(ref)
        generation = obj["metadata"]["generation"]
        if (obj.get("status") or {}).get("observedGeneration") == generation:
            return
        state = "RUNNING" if obj["spec"]["job"].get("state") == "running" else "SUSPENDED"
        kube.merge_patch(
            ref,
            {"status": {"observedGeneration": generation, "jobStatus": {"state": state}}},
            subresource="status",
        )


def _identity(run_id: str = "sim-20260306-01", owner: str = "tests@host:1") -> RunIdentity:
    token = run_id.replace("-", "_")
    return RunIdentity(run_id, token, "torghut-trades-20260306", owner)


def _values(identity: RunIdentity) -> SimulationValues:
    simdb = f"torghut_sim_{identity.run_token}"
    env = simulation_env(
        SimulationEnvInputs(
            run_id=identity.run_id,
            run_token=identity.run_token,
            dataset_id=identity.dataset_id,
            db_dsn=DSN,
            simulation_database=simdb,
            window_start="2026-03-06T14:30:00Z",
            window_end="2026-03-06T21:00:00Z",
            overrides={"TRADING_FEATURE_QUALITY_ENABLED": "true"},
        )
    )
    return SimulationValues(ta_config_values(identity.run_token, "http://127.0.0.1:58123", simdb), env)


def _controller(
    cluster: Cluster,
    run_dir: Path,
    identity: RunIdentity | None = None,
    targets: RuntimeTargets | None = None,
    **settings: Any,
) -> RuntimeController:
    identity = identity or _identity()
    options = {"ready_timeout_seconds": 30.0, "poll_seconds": 0.1, **settings}
    return RuntimeController(
        cluster.kube,
        RunPaths(run_dir),
        targets or cluster.targets,
        identity,
        _values(identity),
        ControlSettings(**options),
    )


def _run_state(run_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run_dir / "run-state.json").read_text())
    return doc


def _assert_no_secret(run_dir: Path) -> None:
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(), f"{path} records the DSN password"


# --- the happy path ------------------------------------------------------------------------------------


def test_capture_apply_restore_leaves_every_object_as_it_started(cluster: Cluster, tmp_path: Path) -> None:
    before = cluster.snapshot()
    controller = _controller(cluster, tmp_path)
    seen: dict[str, Any] = {}

    def replay() -> Mapping[str, Any]:
        seen.update(cluster.snapshot())
        seen["lock"] = cluster.lock()
        seen["secret"] = cluster.kube.get(secret_ref(cluster.runtime_ns, RUN_SECRET_NAME))
        return {}

    with FakeControllers(cluster):
        outcome = run_phases(
            controller_phases(controller, replay=replay),
            RunStateLog(tmp_path / "run-state.json", "sim-20260306-01"),
        )
    assert outcome.status == "succeeded"
    # The DSN went by reference: the run's Secret held it, the Service never did; the Secret is gone.
    assert SECRET not in json.dumps(seen["knative"])
    assert base64.b64decode(seen["secret"]["data"]["DB_DSN"]).decode() == DSN
    assert cluster.kube.get(secret_ref(cluster.runtime_ns, RUN_SECRET_NAME)) is None
    after = cluster.snapshot()
    for key in before:
        assert after[key] == before[key], f"{key} not restored"
    assert cluster.lock() is None
    # Restored and unlocked: the capture is retired so a rerun of this id captures afresh.
    assert not (tmp_path / "state.json").exists() and (tmp_path / "state.restored.json").exists()

    # While the run was applied, everything held the run's values.
    assert seen["lock"].run_id == "sim-20260306-01"
    assert seen["ta_configmap"]["TA_GROUP_ID"] == "torghut-ta-sim-sim_20260306_01"
    assert (
        seen["ta_configmap"]["TA_CLICKHOUSE_URL"]
        == "jdbc:clickhouse://127.0.0.1:58123/torghut_sim_sim_20260306_01"
    )
    env = {e["name"]: e for e in seen["knative"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DB_DSN"] == {"name": "DB_DSN", "valueFrom": {"secretKeyRef": DSN_REF}}
    assert env["TRADING_MODE"]["value"] == "paper"
    assert seen["flink"]["restartNonce"] == before["flink"]["restartNonce"] + 1
    assert seen["flink"]["job"] == {**before["flink"]["job"], "state": "running", "upgradeMode": "stateless"}
    assert "automated" not in seen["app"]["syncPolicy"] and "automated" not in seen["root"]["syncPolicy"]
    element = find_list_element({"spec": seen["appset"]}, "torghut").removeprefix("/spec")
    assert jsonpointer.read(seen["appset"], element + "/automation").value == "manual"

    doc = _run_state(tmp_path)
    assert doc["status"] == "succeeded"
    ready = next(t for t in doc["transitions"] if t["phase"] == "ready" and t["status"] == "succeeded")
    verified = {e["name"]: e for e in ready["details"]["verified_env"]}
    assert verified["DB_DSN"]["valueFrom"] == {"secretKeyRef": DSN_REF}
    _assert_no_secret(tmp_path)


def test_restore_mode_manual_leaves_argo_frozen(cluster: Cluster, tmp_path: Path) -> None:
    before = cluster.snapshot()
    targets = dataclasses.replace(cluster.targets, restore_mode_after_run="manual")
    controller = _controller(cluster, tmp_path, targets=targets)
    with FakeControllers(cluster):
        run_phases(controller_phases(controller), RunStateLog(tmp_path / "run-state.json", "r"))
    after = cluster.snapshot()
    assert "automated" not in after["app"]["syncPolicy"] and "automated" not in after["root"]["syncPolicy"]
    assert after["ta_configmap"] == before["ta_configmap"] and after["knative"] == before["knative"]
    element = find_list_element({"spec": after["appset"]}, "torghut").removeprefix("/spec")
    assert jsonpointer.read(after["appset"], element + "/automation").value == "manual"


# --- failures --------------------------------------------------------------------------------------------


class InjectedError(Exception):
    """A failure injected into a phase."""


def _failing_after(fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        fn()
        raise InjectedError("injected after the phase did its work")

    return run


@pytest.mark.parametrize(
    "phase", ["argocd_prepare", "provision", "apply", "ready", "replay", "monitor", "export"]
)
def test_a_failure_in_any_phase_restores_everything_and_unlocks(
    cluster: Cluster, tmp_path: Path, phase: str
) -> None:
    before = cluster.snapshot()
    controller = _controller(cluster, tmp_path)
    phases = controller_phases(controller)
    phases = dataclasses.replace(phases, **{phase: _failing_after(phases.get(phase))})
    with FakeControllers(cluster), pytest.raises(InjectedError):
        run_phases(phases, RunStateLog(tmp_path / "run-state.json", "sim-20260306-01"))
    assert cluster.snapshot() == before
    assert cluster.lock() is None
    doc = _run_state(tmp_path)
    assert doc["status"] == "failed"
    assert doc["transitions"][-1]["details"]["failed_phase"] == phase
    done = {(t["phase"], t["status"]) for t in doc["transitions"]}
    assert {("teardown", "succeeded"), ("argocd_restore", "succeeded"), ("unlock", "succeeded")} <= done
    assert not (tmp_path / "restore-required.json").exists()


class LateAppSetController(BackgroundController):
    """Acts as an ApplicationSet controller that renders Application/torghut from the element it saw
    before the run's patch (putting `automated` back) `stale_renders` times (None: for ever), and then
    from the patched element (taking it away again) half a second later."""

    def __init__(self, cluster: Cluster, stale_renders: int | None) -> None:
        super().__init__(cluster)
        self.left = stale_renders
        self.settled = threading.Event()

    def _loop(self) -> None:
        kube = Kube.from_kubeconfig(self.cluster.kubeconfig)
        ref = self.cluster.refs()["app"]
        while self.left != 0 and not self.stop.wait(0.05):
            if "automated" in kube.require(ref)["spec"]["syncPolicy"]:
                continue
            try:
                kube.merge_patch(ref, {"spec": {"syncPolicy": {"automated": dict(AUTOMATED)}}})
            except PatchConflictError:
                continue
            self.left = None if self.left is None else self.left - 1
        if self.left == 0 and not self.stop.wait(0.5):
            kube.merge_patch(ref, {"spec": {"syncPolicy": {"automated": None}}})
            self.settled.set()
        kube.close()


def test_argo_that_settles_late_is_waited_for(cluster: Cluster, tmp_path: Path) -> None:
    before = cluster.snapshot()
    controller = _controller(cluster, tmp_path)
    seen: dict[str, Any] = {}

    def replay() -> Mapping[str, Any]:
        seen.update(cluster.snapshot())
        return {}

    # A stale render undoes the freeze of Application/torghut until the controller renders the patched
    # element; the run waits for that instead of failing at once.
    with FakeControllers(cluster), LateAppSetController(cluster, stale_renders=1) as appset:
        outcome = run_phases(
            controller_phases(controller, replay=replay), RunStateLog(tmp_path / "run-state.json", "r")
        )
    assert appset.settled.is_set(), "the stale render never happened"
    assert outcome.status == "succeeded"
    assert "automated" not in seen["app"]["syncPolicy"]
    assert cluster.snapshot() == before and cluster.lock() is None


def test_argo_that_never_settles_stops_the_run_after_the_verify_timeout(
    cluster: Cluster, tmp_path: Path
) -> None:
    before = cluster.snapshot()
    targets = dataclasses.replace(cluster.targets, argocd_verify_timeout_seconds=1.0)
    controller = _controller(cluster, tmp_path, targets=targets)
    with LateAppSetController(cluster, stale_renders=None), pytest.raises(Exception) as failed:
        run_phases(controller_phases(controller), RunStateLog(tmp_path / "run-state.json", "r"))
    assert getattr(failed.value, "reason", None) == "argocd_mode_mismatch"
    assert "after 1s" in str(failed.value) and "syncPolicy/automated" in str(failed.value)
    assert cluster.snapshot() == before and cluster.lock() is None


def test_runtime_never_ready_times_out_and_restores(cluster: Cluster, tmp_path: Path) -> None:
    before = cluster.snapshot()
    controller = _controller(cluster, tmp_path, ready_timeout_seconds=1.0)
    with pytest.raises(Exception) as failed:
        run_phases(controller_phases(controller), RunStateLog(tmp_path / "run-state.json", "r"))
    assert getattr(failed.value, "reason", None) == "readiness_timeout"
    assert "observedGeneration" in str(failed.value)
    assert cluster.snapshot() == before and cluster.lock() is None


def test_a_stale_resource_version_is_a_409_conflict(cluster: Cluster) -> None:
    ref = cluster.refs()["ta_configmap"]
    stale = cluster.kube.require(ref)["metadata"]["resourceVersion"]
    cluster.kube.merge_patch(ref, {"metadata": {"annotations": {"bump": "1"}}})
    with pytest.raises(PatchConflictError) as conflict:
        cluster.kube.json_patch(
            ref,
            [
                {"op": "replace", "path": "/metadata/resourceVersion", "value": stale},
                {"op": "add", "path": "/data/TA_GROUP_ID", "value": "x"},
            ],
        )
    assert conflict.value.status == 409
    assert cluster.kube.require(ref)["data"]["TA_GROUP_ID"] == "torghut-ta-sim-default"


def test_a_concurrent_change_to_a_patched_key_stops_the_run_and_restores(
    cluster: Cluster, tmp_path: Path
) -> None:
    before = cluster.snapshot()
    controller = _controller(cluster, tmp_path)
    ref = cluster.refs()["ta_configmap"]

    def provision() -> Mapping[str, Any]:
        # Someone else edits a key the run captured, between capture and apply.
        cluster.kube.merge_patch(ref, {"data": {"TA_GROUP_ID": "someone-else"}})
        return {}

    with FakeControllers(cluster), pytest.raises(PatchConflictError) as conflict:
        run_phases(
            controller_phases(controller, provision=provision), RunStateLog(tmp_path / "run-state.json", "r")
        )
    assert conflict.value.reason == "patch_conflict"
    assert "TA_GROUP_ID" in conflict.value.message
    assert cluster.snapshot() == before
    assert cluster.lock() is None
    failed = [t for t in _run_state(tmp_path)["transitions"] if t["status"] == "failed"]
    assert failed[0]["phase"] == "apply" and failed[0]["details"]["reason"] == "patch_conflict"


def test_argo_self_heal_reverting_the_runtime_is_blocked_config_drift(
    cluster: Cluster, tmp_path: Path
) -> None:
    before = cluster.snapshot()
    ref = cluster.refs()["ta_configmap"]

    def self_heal(_seconds: float) -> None:
        cluster.kube.merge_patch(ref, {"data": {"TA_GROUP_ID": before["ta_configmap"]["TA_GROUP_ID"]}})

    identity = _identity()
    controller = RuntimeController(
        cluster.kube,
        RunPaths(tmp_path),
        cluster.targets,
        identity,
        _values(identity),
        ControlSettings(drift_settle_seconds=1.0, poll_seconds=0.1),
        sleep=self_heal,
    )
    with pytest.raises(Exception) as drift:
        run_phases(controller_phases(controller), RunStateLog(tmp_path / "run-state.json", "r"))
    assert getattr(drift.value, "reason", None) == "blocked_config_drift"
    assert cluster.snapshot() == before and cluster.lock() is None


def test_a_failed_restore_writes_the_marker_keeps_the_lock_and_can_be_finished(
    cluster: Cluster, tmp_path: Path
) -> None:
    before = cluster.snapshot()
    controller = _controller(cluster, tmp_path)
    ref = cluster.refs()["knative"]

    def replay() -> Mapping[str, Any]:
        # The container is renamed under the run: restoring env into a different container is refused.
        cluster.kube.json_patch(
            ref, [{"op": "replace", "path": "/spec/template/spec/containers/0/name", "value": "renamed"}]
        )
        return {}

    with FakeControllers(cluster), pytest.raises(Exception) as failed:
        run_phases(
            controller_phases(controller, replay=replay), RunStateLog(tmp_path / "run-state.json", "r")
        )
    assert getattr(failed.value, "reason", None) == "restore_failed"
    marker = json.loads((tmp_path / "restore-required.json").read_text())
    teardown = marker["phases"]["teardown"]
    assert teardown["differences"][0]["pointer"] == "/spec/template/spec/containers/0/env"
    assert teardown["commands"][0].startswith(
        f"kubectl --namespace {cluster.runtime_ns} patch services.serving"
    )
    assert cluster.lock() is not None, "a runtime left patched must stay locked"
    assert _run_state(tmp_path)["status"] == "restore_required"
    _assert_no_secret(tmp_path)

    cluster.kube.json_patch(
        ref, [{"op": "replace", "path": "/spec/template/spec/containers/0/name", "value": "user-container"}]
    )
    assert cli_main(["teardown", "--kubeconfig", str(cluster.kubeconfig), "--run-dir", str(tmp_path)]) == 0
    assert cluster.snapshot() == before
    assert cluster.lock() is None
    assert not (tmp_path / "restore-required.json").exists()


def _proxied_kubeconfig(cluster: Cluster, path: Path, proxy: TcpProxy) -> Path:
    """The cluster's kubeconfig with its server reached through `proxy` (same certificate, 127.0.0.1)."""
    doc = yaml.safe_load(cluster.kubeconfig.read_text())
    server = urlsplit(doc["clusters"][0]["cluster"]["server"])
    proxy.upstream = (server.hostname or "127.0.0.1", server.port or 443)
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_api_server_down_at_teardown_leaves_the_marker_and_every_surface_agrees(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = cluster.snapshot()
    run_dir = tmp_path / "run"
    proxy = TcpProxy(free_port(), ("127.0.0.1", 0))
    kubeconfig = _proxied_kubeconfig(cluster, tmp_path / "kubeconfig", proxy)
    proxy.start()
    kube = Kube.from_kubeconfig(kubeconfig)
    identity = _identity()
    controller = RuntimeController(
        kube,
        RunPaths(run_dir),
        cluster.targets,
        identity,
        _values(identity),
        ControlSettings(ready_timeout_seconds=30.0, poll_seconds=0.1, patch_attempts=2),
    )

    def replay() -> Mapping[str, Any]:
        proxy.cut()  # the API server goes away just before the teardown
        return {}

    try:
        log = RunStateLog(run_dir / "run-state.json", "r")
        with FakeControllers(cluster), pytest.raises(PhaseFailedError) as failed:
            run_phases(controller_phases(controller, replay=replay), log)
    finally:
        kube.close()
    assert failed.value.reason == "restore_failed"
    marker = json.loads((run_dir / "restore-required.json").read_text())
    assert marker["retry_command"].startswith(f"torghut-sim teardown --run-dir {run_dir}")
    teardown = marker["phases"]["teardown"]
    assert any("kube_unreachable" in e for e in teardown["errors"]), teardown["errors"]
    # Nothing could be read back, so every captured runtime field gets its restoring command, and the
    # run's DSN Secret its delete.
    assert len(teardown["commands"]) == len(teardown["unverified"]) + 1 >= 4
    assert any("services.serving.knative.dev/torghut-sim" in c for c in teardown["commands"])
    delete = f"kubectl --namespace {cluster.runtime_ns} delete secret {RUN_SECRET_NAME}"
    assert teardown["commands"][-1] == delete
    assert marker["phases"]["argocd_restore"]["commands"]
    assert _run_state(run_dir)["status"] == "restore_required"
    _assert_no_secret(run_dir)

    # The runtime is still patched and locked; the status CLI says so, as run-state.json does.
    assert cluster.snapshot() != before and cluster.lock() is not None
    args = ["--kubeconfig", str(cluster.kubeconfig), "--run-dir", str(run_dir)]
    capsys.readouterr()
    assert cli_main(["status", *args]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["restore_required"] is True and status["run_status"] == "restore_required"
    assert restore_state(RunPaths(run_dir)).restored is False

    # With the API server back, the teardown the marker names finishes it, and every surface agrees.
    assert cli_main(["teardown", *args]) == 0
    assert cluster.snapshot() == before and cluster.lock() is None
    assert cluster.kube.get(secret_ref(cluster.runtime_ns, RUN_SECRET_NAME)) is None
    assert not (run_dir / "restore-required.json").exists()
    capsys.readouterr()
    assert cli_main(["status", *args]) == 0
    assert json.loads(capsys.readouterr().out)["restore_required"] is False
    assert restore_state(RunPaths(run_dir)).restored is True


# --- crash recovery ------------------------------------------------------------------------------------


def _apply_argv(cluster: Cluster, run_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torghut_sim.cli",
        "apply",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--run-dir",
        str(run_dir),
        "--run-id",
        "sim-20260306-01",
        "--run-token",
        "sim_20260306_01",
        "--dataset-id",
        "torghut-trades-20260306",
        "--namespace",
        cluster.runtime_ns,
        "--applicationset-namespace",
        cluster.argo_ns,
        "--window-start",
        "2026-03-06T14:30:00Z",
        "--window-end",
        "2026-03-06T21:00:00Z",
        "--simulation-database",
        "torghut_sim_sim_20260306_01",
        "--clickhouse-url",
        "http://127.0.0.1:58123",
        "--ready-timeout",
        "300",
        "--poll-seconds",
        "0.2",
    ]


def _start_apply_and_wait_for_ready(cluster: Cluster, run_dir: Path) -> subprocess.Popen[bytes]:
    # faulthandler: a child that hangs can be asked (SIGABRT) for every thread's stack, see _wait_or_dump.
    env = {**os.environ, "TORGHUT_SIM_DB_DSN": DSN, "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        _apply_argv(cluster, run_dir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        path = run_dir / "run-state.json"
        if path.exists():
            last = json.loads(path.read_text())["transitions"][-1]
            if (last["phase"], last["status"]) == ("ready", "started"):
                return proc
        if proc.poll() is not None:
            pytest.fail(f"apply exited early: {proc.communicate()}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail("apply never reached the ready phase")


def test_a_killed_apply_is_torn_down_from_state_json(cluster: Cluster, tmp_path: Path) -> None:
    before = cluster.snapshot()
    proc = _start_apply_and_wait_for_ready(cluster, tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    patched = cluster.snapshot()
    assert patched["ta_configmap"] != before["ta_configmap"]
    assert cluster.lock() is not None

    assert cli_main(["status", "--kubeconfig", str(cluster.kubeconfig), "--run-dir", str(tmp_path)]) == 0
    assert cluster.kube.get(secret_ref(cluster.runtime_ns, RUN_SECRET_NAME)) is not None
    assert cli_main(["teardown", "--kubeconfig", str(cluster.kubeconfig), "--run-dir", str(tmp_path)]) == 0
    assert cluster.snapshot() == before
    assert cluster.lock() is None
    # The crash cleanup, from state.json alone, deletes the run's Secret too.
    assert cluster.kube.get(secret_ref(cluster.runtime_ns, RUN_SECRET_NAME)) is None
    doc = _run_state(tmp_path)
    assert doc["status"] == "torn_down"
    done = [(t["phase"], t["status"]) for t in doc["transitions"]]
    assert ("ready", "started") in done and ("unlock", "succeeded") in done
    _assert_no_secret(tmp_path)


def test_status_reports_lock_argo_mode_and_redacted_env_diff(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = _start_apply_and_wait_for_ready(cluster, tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    capsys.readouterr()
    assert cli_main(["status", "--kubeconfig", str(cluster.kubeconfig), "--run-dir", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lock"]["run_id"] == "sim-20260306-01"
    assert report["argocd"][f"argocd_app:{cluster.targets.app_name}"] == "manual"
    assert set(report["argocd"].values()) == {"manual"}
    knative_diff = next(v for k, v in report["runtime_diff"].items() if k.startswith("Service/"))
    dsn = next(d for d in knative_diff if d["name"] == "DB_DSN")
    assert dsn["live"] == "valueFrom " + json.dumps({"secretKeyRef": DSN_REF}, sort_keys=True)
    assert SECRET not in json.dumps(report)
    assert cli_main(["teardown", "--kubeconfig", str(cluster.kubeconfig), "--run-dir", str(tmp_path)]) == 0


def test_sigterm_during_apply_cleans_up_in_process(cluster: Cluster, tmp_path: Path) -> None:
    before = cluster.snapshot()
    proc = _start_apply_and_wait_for_ready(cluster, tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert cluster.snapshot() == before
    assert cluster.lock() is None
    assert _run_state(tmp_path)["status"] == "interrupted"


def _wait_or_dump(proc: subprocess.Popen[bytes], timeout: float, sent: int) -> tuple[int, bytes]:
    """The child's exit code and stderr; if it hangs, fail with the stack of each of its threads."""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # faulthandler (PYTHONFAULTHANDLER) prints every thread's stack on SIGABRT before the process dies.
        proc.send_signal(signal.SIGABRT)
        _out, err = proc.communicate(timeout=30)
        pytest.fail(
            f"apply still ran {timeout:.0f} s after {sent} Ctrl-Cs; its threads:\n"
            + err.decode(errors="replace")[-6000:]
        )
    _out, err = proc.communicate()
    return code, err


def test_repeated_ctrl_c_during_the_restore_never_cuts_it(cluster: Cluster, tmp_path: Path) -> None:
    before = cluster.snapshot()
    proc = _start_apply_and_wait_for_ready(cluster, tmp_path)
    proc.send_signal(signal.SIGINT)
    # Keep pressing Ctrl-C until the run's outcome is recorded: several land inside the restore.
    sent = 1
    while proc.poll() is None and sent < 4000 and _run_state(tmp_path)["status"] == "running":
        time.sleep(0.005)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
            sent += 1
    # The CLI reports the interrupt (130); a Ctrl-C during interpreter shutdown may still end it by signal.
    code, err = _wait_or_dump(proc, 60, sent)
    assert code in (130, -signal.SIGINT), err
    assert b"torghut-sim: interrupted" in err
    assert cluster.snapshot() == before
    assert cluster.lock() is None
    doc = _run_state(tmp_path)
    assert doc["status"] == "interrupted"
    done = {(t["phase"], t["status"]) for t in doc["transitions"]}
    assert {("teardown", "succeeded"), ("argocd_restore", "succeeded"), ("unlock", "succeeded")} <= done
    deferred = [t for t in doc["transitions"] if t["status"] == "signals_deferred"]
    assert deferred, f"no Ctrl-C landed inside the restore ({sent} sent)"
    assert set(deferred[0]["details"]["signals"]) == {"SIGINT"}


def test_the_lock_heartbeat_renews_the_lock_while_the_run_lives(cluster: Cluster, tmp_path: Path) -> None:
    controller = _controller(cluster, tmp_path, heartbeat_seconds=0.2, lease_seconds=30)
    controller.acquire_lock()
    first = cluster.lock()
    assert first.heartbeat_at is not None and first.lease_seconds == 30
    assert first.run_dir == str(tmp_path.resolve()) and first.pid == os.getpid()
    try:
        renewed = _wait(lambda: (lock := cluster.lock()) and lock.resource_version != first.resource_version)
        assert renewed, "the heartbeat never renewed the lock"
        assert cluster.lock().heartbeat_at >= first.heartbeat_at
    finally:
        controller.release_lock()
    assert cluster.lock() is None
    with pytest.raises(LockLostError):
        renew_lock(cluster.kube, cluster.runtime_ns, _identity())


def _wait(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return None


def test_a_rerun_of_the_same_run_reuses_its_lock_and_capture(cluster: Cluster, tmp_path: Path) -> None:
    before = cluster.snapshot()
    first = _controller(cluster, tmp_path)
    first.acquire_lock()
    first.prepare_argocd()
    first.apply()
    # A resumed process of the same run reuses the lock and does not recapture the patched objects.
    again = _controller(cluster, tmp_path)
    with FakeControllers(cluster):
        run_phases(controller_phases(again), RunStateLog(tmp_path / "run-state.json", "r"))
    assert cluster.snapshot() == before
    assert cluster.lock() is None


# --- the lock ----------------------------------------------------------------------------------------------


def test_a_refused_attempt_changes_nothing_of_the_earlier_run_or_the_holder(
    cluster: Cluster, tmp_path: Path
) -> None:
    evidence = tmp_path / "contamination.json"

    def provision() -> Mapping[str, Any]:
        # As the lifecycle does: the run's production snapshot is written under the lock.
        evidence.write_text(json.dumps({"run": "first", "status": "clean"}))
        return {}

    first = _controller(cluster, tmp_path)
    with FakeControllers(cluster):
        log = RunStateLog(tmp_path / "run-state.json", "r")
        run_phases(controller_phases(first, provision=provision), log)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert json.loads(files["run-state.json"])["status"] == "succeeded"

    # Another run holds the runtime now; this day's second attempt is refused.
    other = _identity("sim-20260309-01", owner="someone-else")
    held = acquire_lock(cluster.kube, cluster.runtime_ns, other)
    second = _controller(cluster, tmp_path, identity=_identity(owner="tests@host:2"))
    with pytest.raises(LockHeldError) as refused:
        run_phases(controller_phases(second, provision=provision), log)
    assert refused.value.reason == "lock_held"

    # The earlier run's files are byte for byte as they were; the holder's lock is untouched.
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and p.name in files}
    assert after == files
    assert cluster.lock().resource_version == held.resource_version
    assert not (tmp_path / "restore-required.json").exists()
    # The refused attempt keeps its own record beside them.
    lines = (tmp_path / "refused-attempts.jsonl").read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert (record["status"], record["reason"]) == ("failed", "lock_held")
    phases = [(t["phase"], t["status"]) for t in record["transitions"]]
    assert ("lock", "failed") in phases and not any(p in CLEANUP_PHASES for p, _ in phases)
    release_lock(cluster.kube, cluster.runtime_ns, other)


def test_racing_runs_exactly_one_wins(cluster: Cluster) -> None:
    contenders = 6
    barrier = threading.Barrier(contenders)
    results: list[tuple[str, str]] = []
    guard = threading.Lock()

    def contend(index: int) -> None:
        kube = Kube.from_kubeconfig(cluster.kubeconfig)
        identity = _identity(f"sim-20260306-{index + 1:02d}", owner=f"worker-{index}")
        barrier.wait()
        try:
            acquire_lock(kube, cluster.runtime_ns, identity)
            outcome = ("won", identity.run_id)
        except LockHeldError as exc:
            outcome = ("refused", exc.holder.run_id)
        finally:
            kube.close()
        with guard:
            results.append(outcome)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [run for status, run in results if status == "won"]
    assert len(results) == contenders and len(winners) == 1
    assert {run for status, run in results if status == "refused"} == set(winners)
    assert cluster.lock().run_id == winners[0]


def test_lock_reuse_owner_only_release_and_stale_reporting(cluster: Cluster) -> None:
    ns = cluster.runtime_ns
    mine, other = _identity(), _identity("sim-20260306-02", owner="someone-else")
    held = acquire_lock(cluster.kube, ns, mine)
    assert acquire_lock(cluster.kube, ns, mine).resource_version == held.resource_version
    with pytest.raises(LockHeldError) as refused:
        acquire_lock(cluster.kube, ns, other)
    assert refused.value.reason == "lock_held" and "sim-20260306-01" in refused.value.message
    with pytest.raises(LockNotOwnedError):
        release_lock(cluster.kube, ns, other)
    with pytest.raises(StaleLockError) as stale:
        acquire_lock(cluster.kube, ns, other, max_age=timedelta(seconds=-1))
    assert stale.value.reason == "lock_stale"
    assert f"kubectl --namespace {ns} delete configmap {LOCK_NAME}" in stale.value.message
    assert "torghut-sim teardown --run-dir" in stale.value.message
    assert cluster.lock().run_id == mine.run_id, "a stale lock is reported, never taken over"
    with pytest.raises(StaleLockError):
        acquire_lock(cluster.kube, ns, other, owner_finished=lambda holder: holder.run_id == mine.run_id)
    assert release_lock(cluster.kube, ns, mine) is True
    assert cluster.lock() is None
    assert release_lock(cluster.kube, ns, mine) is False


def test_phase_table_is_what_the_pipeline_expects() -> None:
    assert MAIN_PHASES[-1] == "export"
    assert {f.name for f in dataclasses.fields(Phases)} >= set(MAIN_PHASES)
