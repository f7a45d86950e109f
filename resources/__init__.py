"""Dagster resources that hand the domain its configuration: settings, connection overrides, the cluster."""

from resources.connections import ClickHouseResource, KafkaResource, PostgresResource
from resources.deployment import DeploymentSettings, build_resources
from resources.kubernetes import ArgoCdResource, KubernetesResource
from resources.run_clients import RunClientsResource
from resources.simulation import DayRun, SimulationConfigResource, runtime_pool

__all__ = [
    "ArgoCdResource",
    "ClickHouseResource",
    "DayRun",
    "DeploymentSettings",
    "KafkaResource",
    "KubernetesResource",
    "PostgresResource",
    "RunClientsResource",
    "SimulationConfigResource",
    "build_resources",
    "runtime_pool",
]
