"""The local stack's node: Ready, both images imported, the project's image runs as a pod with limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from torghut_sim.devstack.image_spec import IMAGE_REF, PAUSE_REF
from torghut_sim.devstack.kube_objects import ensure_namespace
from torghut_sim.devstack.node import NodeService
from torghut_sim.devstack.node_servers import NODE_NAME

pytestmark = pytest.mark.node


@pytest.fixture
def namespace(node: NodeService, unique_name: str) -> Iterator[str]:
    """A throwaway namespace, deleted after the test."""
    from kubernetes import client

    name = unique_name.replace("_", "-")
    with node.kube.api_client() as api:
        ensure_namespace(api, name)
    yield name
    with node.kube.api_client() as api:
        client.CoreV1Api(api).delete_namespace(name)


def _wait_pod_phase(core: Any, namespace: str, name: str, phases: set[str], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod(name, namespace)
        if pod.status.phase in phases:
            return pod
        if time.monotonic() >= deadline:
            raise AssertionError(f"pod {name} is {pod.status.phase}, not in {phases}: {pod.status}")
        time.sleep(1)


def pod_log(core: Any, namespace: str, name: str) -> str:
    """A pod's log as text, read through the API server from the kubelet."""
    response = core.read_namespaced_pod_log(name, namespace, _preload_content=False)
    return str(response.data.decode())


def _run_image_pod(
    node: NodeService,
    namespace: str,
    name: str,
    container: str,
    command: list[str],
    resources: Any = None,
) -> tuple[Any, str]:
    """Run the project image as a host-network pod until it ends; (the ended pod, its log)."""
    from kubernetes import client

    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            host_network=True,
            restart_policy="Never",
            containers=[
                client.V1Container(
                    name=container,
                    image=IMAGE_REF,
                    image_pull_policy="Never",
                    command=command,
                    resources=resources,
                )
            ],
        ),
    )
    with node.kube.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_pod(namespace, pod)
        done = _wait_pod_phase(core, namespace, name, {"Succeeded", "Failed"}, timeout=300)
        # Logs come from the kubelet through the API server, as the Dagster UI reads a run pod's logs.
        logs = pod_log(core, namespace, name)
    return done, logs


def test_node_is_ready_with_both_images(node: NodeService) -> None:
    status = node.status()
    assert status.running and status.healthy, status
    refs = set(node.containerd.ctr("images", "list", "-q").split())
    assert {IMAGE_REF, PAUSE_REF} <= refs
    from kubernetes import client

    with node.kube.api_client() as api:
        info = client.CoreV1Api(api).read_node(NODE_NAME).status.node_info
    assert info.kubelet_version == "v1.35.4"
    assert info.container_runtime_version.startswith("containerd://1.6")


def test_project_image_runs_as_a_pod_with_limits_and_readable_logs(node: NodeService, namespace: str) -> None:
    from kubernetes import client

    kube_port = node.config.ports.kube_apiserver
    # The engine answers from beside the interpreter, the code location imports, and the stack's API
    # server is reached on 127.0.0.1 from inside the pod (host network).
    script = (
        "torghut-kafka-engine version && "
        "python -c 'import socket, torghut_sim.definitions as d; "
        f'socket.create_connection(("127.0.0.1", {kube_port}), 5).close(); '
        'print("definitions", type(d.defs).__name__, "reached-api")\''
    )
    done, logs = _run_image_pod(
        node,
        namespace,
        "image-smoke",
        "smoke",
        ["sh", "-c", script],
        client.V1ResourceRequirements(
            requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "1Gi"}
        ),
    )
    assert done.spec.node_name == NODE_NAME
    assert done.status.phase == "Succeeded", logs
    assert done.status.qos_class == "Burstable"
    assert "torghut-kafka-engine/1" in logs
    assert "definitions Definitions reached-api" in logs


def test_failing_container_reports_failed(node: NodeService, namespace: str) -> None:
    done, logs = _run_image_pod(
        node, namespace, "image-fails", "fails", ["torghut-sim", "plan", "--date", "2026-13-45"]
    )
    assert done.status.phase == "Failed"
    assert "is not a date (YYYY-MM-DD)" in logs
