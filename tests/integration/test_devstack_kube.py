"""The local Kubernetes API is a real kube-apiserver: upstream objects load, JSON patches with test ops,
optimistic concurrency (409), status subresources, RBAC authentication, and the `devstack` CLI."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from torghut_sim.devstack.kube import KubeService
from torghut_sim.devstack.kube_fixtures import load_fixtures
from torghut_sim.devstack.service import Service

KSVC = ("serving.knative.dev", "v1", "services")
APPSET = ("argoproj.io", "v1alpha1", "applicationsets")
MERGE_PATCH = "application/merge-patch+json"
# The Python client would send a list body as a merge patch; RFC 6902 must be named explicitly.
JSON_PATCH = "application/json-patch+json"


def _kube(svc: Service) -> KubeService:
    assert isinstance(svc, KubeService)
    return svc


@pytest.fixture
def api(kube_service: Service) -> Iterator[client.ApiClient]:
    """An admin API client from the written kubeconfig."""
    with _kube(kube_service).api_client() as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient, unique_name: str) -> Iterator[str]:
    """A namespace of this test only, deleted afterwards."""
    name = unique_name.replace("_", "-")
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    # Without a namespace controller the namespace stays Terminating, but its name is unique anyway.
    client.CoreV1Api(api).delete_namespace(name)


def _product(custom: client.CustomObjectsApi, namespace: str) -> dict[str, Any]:
    """The ApplicationSet `product` as stored in the namespace."""
    group, version, plural = APPSET
    appset: dict[str, Any] = custom.get_namespaced_custom_object(group, version, namespace, plural, "product")
    return appset


def _torghut_element_pointer(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The JSON pointer and value of the list-generator element named torghut (generators may nest)."""

    def walk(generators: list[dict[str, Any]], base: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for i, generator in enumerate(generators):
            for j, element in enumerate(generator.get("list", {}).get("elements", [])):
                yield f"{base}/{i}/list/elements/{j}", element
            for nest in ("matrix", "merge"):
                if nest in generator:
                    yield from walk(generator[nest]["generators"], f"{base}/{i}/{nest}/generators")

    found = [(p, e) for p, e in walk(spec["generators"], "/spec/generators") if e.get("name") == "torghut"]
    assert len(found) == 1, found
    return found[0]


def test_fixtures_load_and_product_appset_holds_the_torghut_element(
    api: client.ApiClient, upstream_dir: Path
) -> None:
    stored = load_fixtures(api, directory=upstream_dir / "gitops")
    assert {(o["kind"], o["metadata"]["namespace"]) for o in stored} == {
        ("ApplicationSet", "argocd"),
        ("Service", "torghut"),
        ("ConfigMap", "torghut"),
        ("FlinkDeployment", "torghut"),
    }
    appset = _product(client.CustomObjectsApi(api), "argocd")
    _, element = _torghut_element_pointer(appset["spec"])
    assert element["path"] == "argocd/applications/torghut"
    assert element["automation"] in {"auto", "manual"}
    # Loading again replaces in place instead of failing on the existing objects.
    again = load_fixtures(api, directory=upstream_dir / "gitops")
    assert len(again) == len(stored)


def test_json_patch_of_element_automation_with_test_op(
    api: client.ApiClient, upstream_dir: Path, namespace: str
) -> None:
    load_fixtures(api, namespace=namespace, directory=upstream_dir / "gitops")
    custom = client.CustomObjectsApi(api)
    appset = _product(custom, namespace)
    pointer, element = _torghut_element_pointer(appset["spec"])
    current = element["automation"]
    wanted = "manual" if current == "auto" else "auto"
    path = f"{pointer}/automation"
    custom.patch_namespaced_custom_object(
        *APPSET[:2],
        namespace,
        APPSET[2],
        "product",
        [{"op": "test", "path": path, "value": current}, {"op": "replace", "path": path, "value": wanted}],
        _content_type=JSON_PATCH,
    )
    after = _product(custom, namespace)
    assert _torghut_element_pointer(after["spec"])[1]["automation"] == wanted
    # The test op guards against a concurrent change: the old value no longer matches, nothing is written.
    with pytest.raises(client.ApiException) as err:
        custom.patch_namespaced_custom_object(
            *APPSET[:2],
            namespace,
            APPSET[2],
            "product",
            [{"op": "test", "path": path, "value": current}, {"op": "replace", "path": path, "value": "x"}],
            _content_type=JSON_PATCH,
        )
    assert err.value.status == 422
    final = _product(custom, namespace)
    assert _torghut_element_pointer(final["spec"])[1]["automation"] == wanted
    assert final["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]


def test_stale_resource_version_and_duplicate_create_conflict(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="torghut-historical-simulation-lock"), data={"run_id": "a"}
    )
    created = core.create_namespaced_config_map(namespace, body)
    stale = created.metadata.resource_version
    created.data = {"run_id": "b"}
    core.replace_namespaced_config_map(created.metadata.name, namespace, created)
    created.data = {"run_id": "c"}
    created.metadata.resource_version = stale
    with pytest.raises(client.ApiException) as err:
        core.replace_namespaced_config_map(created.metadata.name, namespace, created)
    assert err.value.status == 409
    with pytest.raises(client.ApiException) as dup:
        core.create_namespaced_config_map(namespace, body)
    assert dup.value.status == 409
    assert json.loads(dup.value.body)["reason"] == "AlreadyExists"
    assert core.read_namespaced_config_map(created.metadata.name, namespace).data == {"run_id": "b"}


def test_knative_status_changes_only_through_the_status_subresource(
    api: client.ApiClient, upstream_dir: Path, namespace: str
) -> None:
    load_fixtures(api, namespace=namespace, directory=upstream_dir / "gitops")
    custom = client.CustomObjectsApi(api)
    group, version, plural = KSVC
    status = {
        "observedGeneration": 1,
        "latestCreatedRevisionName": "torghut-sim-00007",
        "latestReadyRevisionName": "torghut-sim-00007",
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "ConfigurationsReady", "status": "True"},
            {"type": "RoutesReady", "status": "True"},
        ],
    }
    custom.patch_namespaced_custom_object_status(
        group, version, namespace, plural, "torghut-sim", {"status": status}, _content_type=MERGE_PATCH
    )
    ksvc = custom.get_namespaced_custom_object(group, version, namespace, plural, "torghut-sim")
    ready = {c["type"]: c["status"] for c in ksvc["status"]["conditions"]}
    assert ready["Ready"] == "True"
    assert ksvc["status"]["latestReadyRevisionName"] == ksvc["status"]["latestCreatedRevisionName"]

    # A spec write (even one that carries a status) leaves status alone and bumps the generation.
    container = ksvc["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [*container.get("env", []), {"name": "TRADING_SIMULATION_RUN_ID", "value": "r1"}]
    ksvc["status"] = {"latestReadyRevisionName": "torghut-sim-00001", "conditions": []}
    updated = custom.replace_namespaced_custom_object(group, version, namespace, plural, "torghut-sim", ksvc)
    assert updated["status"] == status
    assert updated["metadata"]["generation"] == 2
    envs = updated["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "TRADING_SIMULATION_RUN_ID", "value": "r1"} in envs


def test_unknown_token_is_refused_and_start_is_idempotent(kube_service: Service) -> None:
    kube = _kube(kube_service)
    pids = kube.status().pids
    kube.start()
    assert kube.status().pids == pids
    request = urllib.request.Request(
        f"{kube.server_url}/api/v1/namespaces", headers={"Authorization": "Bearer not-a-token"}
    )
    context = ssl.create_default_context(cafile=str(kube.serving_cert))
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10, context=context)
    assert err.value.code == 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _devstack(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).with_name("devstack")
    return subprocess.run(
        [str(cli), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_cli_up_status_down_on_a_separate_stack(kube_service: Service, tmp_path: Path) -> None:
    # A second stack (own state dir and ports, same build cache) so the session's server keeps running.
    env = {
        **os.environ,
        "TORGHUT_DEVSTACK_STATE": str(tmp_path / "state"),
        "TORGHUT_DEVSTACK_CACHE": str(kube_service.config.cache_dir),
        "TORGHUT_DEVSTACK_ETCD_PORT": str(_free_port()),
        "TORGHUT_DEVSTACK_ETCD_PEER_PORT": str(_free_port()),
        "TORGHUT_DEVSTACK_KUBE_PORT": str(_free_port()),
    }
    try:
        up = _devstack(["up", "kube"], env)
        assert up.returncode == 0, up.stderr
        status = _devstack(["status", "kube", "--json"], env)
        assert status.returncode == 0, status.stderr
        (report,) = json.loads(status.stdout)
        assert report["healthy"] is True
        assert set(report["pids"]) == {"etcd", "kube-apiserver"}
        assert report["endpoints"]["server"] == f"https://127.0.0.1:{env['TORGHUT_DEVSTACK_KUBE_PORT']}"
        assert Path(report["endpoints"]["kubeconfig"]).is_file()
        kubectl = subprocess.run(
            ["kubectl", "--kubeconfig", report["endpoints"]["kubeconfig"], "get", "crd", "-o", "name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert kubectl.returncode == 0, kubectl.stderr
        assert "customresourcedefinition.apiextensions.k8s.io/services.serving.knative.dev" in kubectl.stdout
    finally:
        down = _devstack(["down", "kube"], env)
    assert down.returncode == 0, down.stderr
    assert "kube: stopped" in down.stderr
    after = _devstack(["status", "kube"], env)
    assert after.returncode == 1
    assert "stopped" in after.stdout
