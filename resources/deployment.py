"""The deployment's settings, read once from `TORGHUT_SIM_*` environment variables with working defaults.

Only non-secret values (paths, addresses, names of secret variables) come from here, so the definitions
load — and `dg check defs` passes — on a machine with none of these variables set. A resource field whose
variable is set in the process environment is configured as `dg.EnvVar` of that variable: the UI shows the
variable's name, not a copied value, and a run (a pod, say) resolves it from its own environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from resources.connections import ClickHouseResource, KafkaResource, PostgresResource
from resources.kubernetes import cluster_resources
from resources.run_clients import RunClientsResource
from resources.simulation import SimulationConfigResource
from torghut_sim.day_template import DEFAULT_TEMPLATE
from torghut_sim.runtime.lock import DEFAULT_LEASE_SECONDS as DEFAULT_LOCK_LEASE_SECONDS

DEFAULT_PARTITIONS_START = date(2026, 1, 2)
DEFAULT_OUTPUT_ROOT = "artifacts/torghut/simulations"
DEFAULT_RUNTIME_LANE = "default"
DEFAULT_KUBECONFIG = "~/.kube/config"

# Per setting, the variables that set it, the first one set winning.
VARIABLES: dict[str, tuple[str, ...]] = {
    "partitions_start": ("TORGHUT_SIM_PARTITIONS_START",),
    "template_path": ("TORGHUT_SIM_TEMPLATE",),
    "output_root": ("TORGHUT_SIM_OUTPUT_ROOT",),
    "sequence": ("TORGHUT_SIM_SEQUENCE",),
    "pre_buffer_minutes": ("TORGHUT_SIM_PRE_BUFFER_MINUTES",),
    "post_buffer_minutes": ("TORGHUT_SIM_POST_BUFFER_MINUTES",),
    "runtime_lane": ("TORGHUT_SIM_RUNTIME_LANE",),
    "runtime_lanes_file": ("TORGHUT_SIM_RUNTIME_LANES_FILE",),
    "kubeconfig": ("TORGHUT_SIM_KUBECONFIG", "KUBECONFIG"),
    "runtime_namespace": ("TORGHUT_SIM_RUNTIME_NAMESPACE",),
    "kafka_bootstrap_servers": ("TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS",),
    "clickhouse_http_url": ("TORGHUT_SIM_CLICKHOUSE_HTTP_URL",),
    "postgres_admin_dsn": ("TORGHUT_SIM_POSTGRES_ADMIN_DSN",),
    "postgres_simulation_dsn_template": ("TORGHUT_SIM_POSTGRES_SIMULATION_DSN_TEMPLATE",),
    "lock_lease_seconds": ("TORGHUT_SIM_LOCK_LEASE_SECONDS",),
    "production_postgres_database": ("TORGHUT_SIM_PRODUCTION_POSTGRES_DATABASE",),
    "secrets_dir": ("TORGHUT_SIM_SECRETS_DIR",),
}
# Settings whose variable counts only when non-empty (an empty one keeps the default, None).
EMPTY_IS_UNSET = frozenset(
    {"runtime_lanes_file", "production_postgres_database", "secrets_dir", "partitions_start"}
)


def _variable_of(name: str, env: Mapping[str, str]) -> str | None:
    """The variable that sets a setting in this environment, if any."""
    for var in VARIABLES[name]:
        if var in env and (env[var] or name not in EMPTY_IS_UNSET):
            return var
    return None


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

    # Per setting, the variable of the process environment that set it; empty when the settings come from
    # an explicit mapping (a test's), whose values a run could not resolve from its own environment.
    variables: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeploymentSettings:
        """Settings from `TORGHUT_SIM_*` variables (and `KUBECONFIG`); unset ones keep the defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        named: dict[str, str] = {}
        for setting in fields(cls):
            var = _variable_of(setting.name, env) if setting.name in VARIABLES else None
            if var is not None:
                # Parsed now, so a malformed value stops the load with its error, not a later run.
                values[setting.name] = _parse(setting.default, env[var])
                named[setting.name] = var
        return cls(**values, variables=named if environ is None else {})

    @property
    def template_file(self) -> Path:
        """The day template as a path."""
        return Path(self.template_path)


def _parse(default: Any, raw: str) -> Any:
    """A variable's text as the type of the setting's default."""
    if isinstance(default, date):
        return date.fromisoformat(raw)
    if isinstance(default, int):
        return int(raw)
    return raw


def resource_value(settings: DeploymentSettings, name: str) -> Any:
    """A setting as a resource field: `dg.EnvVar` of the variable that set it, else its value (default)."""
    value = getattr(settings, name)
    var = settings.variables.get(name)
    if var is None:
        return value
    return dg.EnvVar.int(var) if isinstance(value, int) else dg.EnvVar(var)


def build_resources(settings: DeploymentSettings) -> dict[str, Any]:
    """The resources of the code location, keyed as the assets, checks, jobs and sensors ask for them."""

    def value(name: str) -> Any:
        return resource_value(settings, name)

    return {
        "simulation_config": SimulationConfigResource(
            template_path=value("template_path"),
            output_root=value("output_root"),
            sequence=value("sequence"),
            pre_buffer_minutes=value("pre_buffer_minutes"),
            post_buffer_minutes=value("post_buffer_minutes"),
            runtime_lane=value("runtime_lane"),
            runtime_lanes_file=value("runtime_lanes_file"),
            lock_lease_seconds=value("lock_lease_seconds"),
            production_postgres_database=value("production_postgres_database"),
        ),
        "kafka": KafkaResource(bootstrap_servers=value("kafka_bootstrap_servers")),
        "clickhouse": ClickHouseResource(http_url=value("clickhouse_http_url")),
        "postgres": PostgresResource(
            admin_dsn=value("postgres_admin_dsn"),
            simulation_dsn_template=value("postgres_simulation_dsn_template"),
        ),
        "run_clients": RunClientsResource(secrets_dir=value("secrets_dir")),
        # The runtime's cluster, configured once: Argo CD's resource nests the Kubernetes one.
        **cluster_resources(value("kubeconfig"), value("runtime_namespace")),
    }
