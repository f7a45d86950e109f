"""The clients of one run, resolved from its manifest and the environment: Kafka, ClickHouse, Postgres.

Secrets are read here, from the variables the manifest names, and nowhere else; what leaves this module
for artifacts or logs goes through `describe()`, which never carries a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.manifest import DatasetManifest
from torghut_sim.naming import RunNames
from torghut_sim.secrets import (
    Secret,
    dsn_with_database,
    dsn_with_password,
    optional_secret_from_env,
    redact_dsn,
    secret_from_env,
)
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint


@dataclass(frozen=True)
class ResolvedSecrets:
    """Every secret a run needs, resolved from the environment variables the manifest names."""

    kafka_sasl_password: Secret | None
    runtime_kafka_sasl_password: Secret | None
    clickhouse_password: Secret | None
    postgres_admin_dsn: Secret
    postgres_simulation_dsn: Secret
    postgres_runtime_simulation_dsn: Secret


def resolve_secrets(
    manifest: DatasetManifest, postgres_database: str, environ: Mapping[str, str] | None = None
) -> ResolvedSecrets:
    """Resolve all secrets of a manifest for one simulation database; any missing variable is an error."""
    kafka, ch, pg = manifest.kafka, manifest.clickhouse, manifest.postgres
    if pg.admin_dsn_env is not None:
        admin = secret_from_env(pg.admin_dsn_env, environ)
    else:
        admin_pw = optional_secret_from_env(pg.admin_dsn_password_env, environ)
        admin = dsn_with_password(pg.admin_dsn or "", admin_pw)
    sim_pw = optional_secret_from_env(pg.simulation_dsn_password_env, environ)
    runtime_pw = optional_secret_from_env(pg.runtime_simulation_dsn_password_env, environ)
    return ResolvedSecrets(
        kafka_sasl_password=optional_secret_from_env(kafka.sasl_password_env, environ),
        runtime_kafka_sasl_password=optional_secret_from_env(kafka.runtime_sasl_password_env, environ),
        clickhouse_password=optional_secret_from_env(ch.password_env, environ),
        postgres_admin_dsn=admin,
        postgres_simulation_dsn=dsn_with_password(pg.simulation_dsn_for(postgres_database), sim_pw),
        postgres_runtime_simulation_dsn=dsn_with_password(
            pg.runtime_simulation_dsn_for(postgres_database), runtime_pw
        ),
    )


def _reveal(secret: Secret | None) -> str | None:
    return secret.reveal() if secret is not None else None


@dataclass(frozen=True)
class Connections:
    """Resolved clients of one run; construct with `resolve_connections`."""

    source_kafka: KafkaConnection
    runtime_kafka: KafkaConnection
    clickhouse: ClickHouseEndpoint
    clickhouse_database: str
    postgres_database: str
    postgres_admin_dsn: Secret = field(repr=False)
    postgres_simulation_dsn: Secret = field(repr=False)
    postgres_runtime_dsn: Secret = field(repr=False)

    def production_postgres_dsn(self, database: str) -> Secret:
        """The admin DSN pointed at a production database (read-only use by the contamination check)."""
        return Secret(dsn_with_database(self.postgres_admin_dsn.reveal(), database))

    def describe(self) -> dict[str, Any]:
        """Where the run connects, for artifacts and metadata: no secret values."""
        return {
            "source_kafka": self.source_kafka.describe(),
            "runtime_kafka": self.runtime_kafka.describe(),
            "clickhouse": self.clickhouse.http_url,
            "clickhouse_database": self.clickhouse_database,
            "postgres_admin": redact_dsn(self.postgres_admin_dsn.reveal()),
            "postgres_simulation": redact_dsn(self.postgres_simulation_dsn.reveal()),
            "postgres_database": self.postgres_database,
        }


def source_kafka(manifest: DatasetManifest, environ: Mapping[str, str] | None = None) -> KafkaConnection:
    """The production Kafka the dump reads, resolving only its own secret."""
    kafka = manifest.kafka
    return KafkaConnection(
        bootstrap_servers=kafka.bootstrap_servers,
        security_protocol=kafka.security_protocol,
        sasl_mechanism=kafka.sasl_mechanism,
        sasl_username=kafka.sasl_username,
        sasl_password=_reveal(optional_secret_from_env(kafka.sasl_password_env, environ)),
    )


def resolve_connections(
    manifest: DatasetManifest, names: RunNames, environ: Mapping[str, str] | None = None
) -> Connections:
    """Resolve every client of a run; a missing secret variable fails here, before any side effect."""
    env = os.environ if environ is None else environ
    postgres_db = manifest.postgres.simulation_database(names.simulation_database)
    secrets = resolve_secrets(manifest, postgres_db, env)
    kafka = manifest.kafka
    source = source_kafka(manifest, env)
    runtime = KafkaConnection(
        bootstrap_servers=kafka.runtime_bootstrap_servers or kafka.bootstrap_servers,
        security_protocol=kafka.runtime_security_protocol or kafka.security_protocol,
        sasl_mechanism=kafka.runtime_sasl_mechanism,
        sasl_username=kafka.runtime_sasl_username,
        sasl_password=_reveal(secrets.runtime_kafka_sasl_password),
    )
    ch = manifest.clickhouse
    return Connections(
        source_kafka=source,
        runtime_kafka=runtime,
        clickhouse=ClickHouseEndpoint(
            http_url=ch.http_url, username=ch.username, password=_reveal(secrets.clickhouse_password) or ""
        ),
        clickhouse_database=ch.simulation_database or names.simulation_database,
        postgres_database=postgres_db,
        postgres_admin_dsn=secrets.postgres_admin_dsn,
        postgres_simulation_dsn=secrets.postgres_simulation_dsn,
        postgres_runtime_dsn=secrets.postgres_runtime_simulation_dsn,
    )
