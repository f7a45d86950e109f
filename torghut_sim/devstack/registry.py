"""The servers of the local stack, in start order."""

from __future__ import annotations

import importlib

from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.service import Service

# Imported lazily so that `devstack status` for one server does not load every client library.
SERVICE_CLASSES: dict[str, str] = {
    "postgres": "torghut_sim.devstack.postgres:PostgresService",
    "kafka": "torghut_sim.devstack.kafka:KafkaService",
    "clickhouse": "torghut_sim.devstack.clickhouse:ClickHouseService",
    "kube": "torghut_sim.devstack.kube:KubeService",
    "runtime": "torghut_sim.devstack.runtime_service:RuntimeService",
    "node": "torghut_sim.devstack.node:NodeService",
}
# Started, installed and required healthy only when named: the quick path (`devstack up`) stays quick.
OPTIONAL_SERVICES = frozenset({"node"})


def default_services() -> list[str]:
    """The servers `devstack up`/`install` handle when none are named."""
    return [name for name in SERVICE_CLASSES if name not in OPTIONAL_SERVICES]


def service(name: str, config: StackConfig | None = None) -> Service:
    """Build the named server of the stack."""
    try:
        target = SERVICE_CLASSES[name]
    except KeyError:
        known = ", ".join(SERVICE_CLASSES)
        raise ValueError(f"unknown devstack service {name!r}; known: {known}") from None
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    instance: Service = cls(config or StackConfig())
    return instance


def all_services(config: StackConfig | None = None) -> list[Service]:
    """Every default server of the stack, in start order."""
    cfg = config or StackConfig()
    return [service(name, cfg) for name in default_services()]
