"""Connection overrides of Kafka, ClickHouse and Postgres per deployment, and the Kafka client the dump uses.

Each resource holds only addresses, user names and the NAMES of the environment variables that hold
secrets; the domain reads the values from the environment when it connects, so no secret ever enters the
Dagster config, a run's config snapshot or asset metadata. Unset fields keep the day template's value.
"""

from typing import Any

import dagster as dg


class ManifestSection(dg.ConfigurableResource["ManifestSection"]):
    """A deployment's overrides of one manifest section: each of its fields that is set replaces the key."""

    def manifest_overrides(self) -> dict[str, Any]:
        """The manifest keys of this section the deployment sets (every field is named after its key)."""
        names = type(self).model_fields
        return {name: value for name in names if (value := getattr(self, name)) is not None}


class KafkaResource(ManifestSection):
    """The Kafka cluster the source topics are dumped from (and the runtime's, when it differs)."""

    bootstrap_servers: str | None = None
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password_env: str | None = None
    runtime_bootstrap_servers: str | None = None


class ClickHouseResource(ManifestSection):
    """The ClickHouse server holding the production TA tables and the simulation databases."""

    http_url: str | None = None
    username: str | None = None
    password_env: str | None = None


class PostgresResource(ManifestSection):
    """The Postgres server of the runtime: the admin DSN and the simulation DSN template (no passwords)."""

    admin_dsn: str | None = None
    admin_dsn_password_env: str | None = None
    simulation_dsn_template: str | None = None
    simulation_dsn_password_env: str | None = None
