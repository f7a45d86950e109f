"""The deployment's settings, read once from `TORGHUT_SIM_*` environment variables with working defaults.

Only non-secret values (paths, addresses, names of secret variables) come from here, so the definitions
load — and `dg check defs` passes — on a machine with none of these variables set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from resources.connections import ClickHouseResource, KafkaResource, PostgresResource
from resources.kubernetes import KubernetesResource
from resources.run_clients import RunClientsResource
from resources.simulation import SimulationConfigResource
from torghut_sim.day_template import DEFAULT_TEMPLATE
from torghut_sim.runtime.lock import DEFAULT_LEASE_SECONDS as DEFAULT_LOCK_LEASE_SECONDS

DEFAULT_PARTITIONS_START = date(2026, 1, 2)
DEFAULT_OUTPUT_ROOT = "artifacts/torghut/simulations"
DEFAULT_RUNTIME_LANE = "default"
DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class DeploymentSettings:
    """Everything the definitions are built from; a pure function of the environment."""

    partitions_start: date = DEFAULT_PARTITIONS_START
    template_path: str = str(DEFAULT_TEMPLATE)
    output_root: str = DEFAULT_OUTPUT_ROOT
    sequence: int = 1
    pre_buffer_minutes: int = 0
    post_buffer_minutes: int = 0
    runtime_lane: str = DEFAULT_RUNTIME_LANE
    runtime_lanes_file: str | None = None
    kubeconfig: str = DEFAULT_KUBECONFIG
    runtime_namespace: str = "torghut"
    kafka_bootstrap_servers: str | None = None
    clickhouse_http_url: str | None = None
    postgres_admin_dsn: str | None = None
    postgres_simulation_dsn_template: str | None = None
    # Seconds a simulation's process may go without renewing the run lock before it counts as dead.
    lock_lease_seconds: int = DEFAULT_LOCK_LEASE_SECONDS
    production_postgres_database: str | None = None
    # A directory of secret files (a mounted Kubernetes Secret) read besides the environment.
    secrets_dir: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeploymentSettings:
        """Settings from `TORGHUT_SIM_*` variables (and `KUBECONFIG`); unset ones keep the defaults."""
        env = os.environ if environ is None else environ
        start = env.get("TORGHUT_SIM_PARTITIONS_START")
        return cls(
            partitions_start=date.fromisoformat(start) if start else DEFAULT_PARTITIONS_START,
            template_path=env.get("TORGHUT_SIM_TEMPLATE", str(DEFAULT_TEMPLATE)),
            output_root=env.get("TORGHUT_SIM_OUTPUT_ROOT", DEFAULT_OUTPUT_ROOT),
            sequence=int(env.get("TORGHUT_SIM_SEQUENCE", "1")),
            pre_buffer_minutes=int(env.get("TORGHUT_SIM_PRE_BUFFER_MINUTES", "0")),
            post_buffer_minutes=int(env.get("TORGHUT_SIM_POST_BUFFER_MINUTES", "0")),
            runtime_lane=env.get("TORGHUT_SIM_RUNTIME_LANE", DEFAULT_RUNTIME_LANE),
            runtime_lanes_file=env.get("TORGHUT_SIM_RUNTIME_LANES_FILE") or None,
            kubeconfig=env.get("TORGHUT_SIM_KUBECONFIG", env.get("KUBECONFIG", DEFAULT_KUBECONFIG)),
            runtime_namespace=env.get("TORGHUT_SIM_RUNTIME_NAMESPACE", "torghut"),
            kafka_bootstrap_servers=env.get("TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS"),
            clickhouse_http_url=env.get("TORGHUT_SIM_CLICKHOUSE_HTTP_URL"),
            postgres_admin_dsn=env.get("TORGHUT_SIM_POSTGRES_ADMIN_DSN"),
            postgres_simulation_dsn_template=env.get("TORGHUT_SIM_POSTGRES_SIMULATION_DSN_TEMPLATE"),
            lock_lease_seconds=int(
                env.get("TORGHUT_SIM_LOCK_LEASE_SECONDS", str(DEFAULT_LOCK_LEASE_SECONDS))
            ),
            production_postgres_database=env.get("TORGHUT_SIM_PRODUCTION_POSTGRES_DATABASE") or None,
            secrets_dir=env.get("TORGHUT_SIM_SECRETS_DIR") or None,
        )

    @property
    def template_file(self) -> Path:
        """The day template as a path."""
        return Path(self.template_path)


def build_resources(settings: DeploymentSettings) -> dict[str, Any]:
    """The resources of the code location, keyed as the assets, checks, jobs and sensors ask for them."""
    return {
        "simulation_config": SimulationConfigResource(
            template_path=settings.template_path,
            output_root=settings.output_root,
            sequence=settings.sequence,
            pre_buffer_minutes=settings.pre_buffer_minutes,
            post_buffer_minutes=settings.post_buffer_minutes,
            runtime_lane=settings.runtime_lane,
            runtime_lanes_file=settings.runtime_lanes_file,
            lock_lease_seconds=settings.lock_lease_seconds,
            production_postgres_database=settings.production_postgres_database,
        ),
        "kafka": KafkaResource(bootstrap_servers=settings.kafka_bootstrap_servers),
        "clickhouse": ClickHouseResource(http_url=settings.clickhouse_http_url),
        "postgres": PostgresResource(
            admin_dsn=settings.postgres_admin_dsn,
            simulation_dsn_template=settings.postgres_simulation_dsn_template,
        ),
        "run_clients": RunClientsResource(secrets_dir=settings.secrets_dir),
        "kubernetes": KubernetesResource(
            kubeconfig=settings.kubeconfig, namespace=settings.runtime_namespace
        ),
    }
