"""Connection overrides of Kafka, ClickHouse and Postgres per deployment, and the Kafka client the dump uses.

Each resource holds only addresses, user names and the NAMES of the environment variables that hold
secrets; the domain reads the values from the environment when it connects, so no secret ever enters the
Dagster config, a run's config snapshot or asset metadata. Unset fields keep the day template's value.
"""

from typing import Any

import dagster as dg


def _set_fields(resource: object, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields that are set, as manifest section keys."""
    return {name: value for name in names if (value := getattr(resource, name)) is not None}


class KafkaResource(dg.ConfigurableResource["KafkaResource"]):
    """The Kafka cluster the source topics are dumped from (and the runtime's, when it differs)."""

    bootstrap_servers: str | None = None
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password_env: str | None = None
    runtime_bootstrap_servers: str | None = None

    def manifest_overrides(self) -> dict[str, Any]:
        """The `kafka` manifest keys this deployment sets."""
        return _set_fields(
            self,
            (
                "bootstrap_servers",
                "security_protocol",
                "sasl_mechanism",
                "sasl_username",
                "sasl_password_env",
                "runtime_bootstrap_servers",
            ),
        )


class ClickHouseResource(dg.ConfigurableResource["ClickHouseResource"]):
    """The ClickHouse server holding the production TA tables and the simulation databases."""

    http_url: str | None = None
    username: str | None = None
    password_env: str | None = None

    def manifest_overrides(self) -> dict[str, Any]:
        """The `clickhouse` manifest keys this deployment sets."""
        return _set_fields(self, ("http_url", "username", "password_env"))


class PostgresResource(dg.ConfigurableResource["PostgresResource"]):
    """The Postgres server of the runtime: the admin DSN and the simulation DSN template (no passwords)."""

    admin_dsn: str | None = None
    admin_dsn_password_env: str | None = None
    simulation_dsn_template: str | None = None
    simulation_dsn_password_env: str | None = None

    def manifest_overrides(self) -> dict[str, Any]:
        """The `postgres` manifest keys this deployment sets."""
        return _set_fields(
            self,
            ("admin_dsn", "admin_dsn_password_env", "simulation_dsn_template", "simulation_dsn_password_env"),
        )
