"""Integration fixtures: the local stack, started once per session, and per-test isolated names."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.node import NodeService
from torghut_sim.devstack.ports import reserve_ports, stack_ports
from torghut_sim.devstack.registry import service
from torghut_sim.devstack.service import Service


def pytest_configure(config: pytest.Config) -> None:
    """The `node` marker: tests that need the stack's Kubernetes node (containerd, kubelet, the image)."""
    config.addinivalue_line(
        "markers", "node: needs the local stack's Kubernetes node (containerd, kubelet, the project image)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration needs the real servers."""
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    """The stack configuration from the environment (state dir, ports)."""
    return StackConfig()


def _started(name: str, config: StackConfig) -> Service:
    reserve_ports(stack_ports(config))
    svc = service(name, config)
    svc.start()
    return svc


@pytest.fixture(scope="session")
def postgres_service(stack_config: StackConfig) -> Service:
    """A running PostgreSQL 15 on loopback."""
    return _started("postgres", stack_config)


@pytest.fixture(scope="session")
def kafka_service(stack_config: StackConfig) -> Service:
    """A running single-node KRaft Kafka broker on loopback."""
    return _started("kafka", stack_config)


@pytest.fixture(scope="session")
def clickhouse_service(stack_config: StackConfig) -> Service:
    """A running ClickHouse (chdb) HTTP server on loopback."""
    return _started("clickhouse", stack_config)


@pytest.fixture(scope="session")
def kube_service(stack_config: StackConfig) -> Service:
    """A running etcd + kube-apiserver with the CRDs registered and a kubeconfig written."""
    return _started("kube", stack_config)


@pytest.fixture(scope="module")
def node(stack_config: StackConfig) -> NodeService:
    """The running node (builds the node binary and images on first use)."""
    svc = service("node", stack_config)
    assert isinstance(svc, NodeService)
    svc.start()
    return svc


@pytest.fixture(scope="module")
def runtime_service(stack_config: StackConfig, kube_service: Service) -> Service:
    """The reference runtime controller watching `torghut` (per module, like the modules that start it)."""
    svc = service("runtime", stack_config)
    svc.start()
    return svc


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A short lower-case name unique to this test, safe for databases, topics and namespaces."""
    base = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:24]
    yield f"t_{base}_{uuid.uuid4().hex[:8]}"
