"""The manifest's store sections: Kafka, ClickHouse and Postgres, with passwords only named, never written."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from torghut_sim.manifest.section import ManifestError, Section, no_dsn_password, no_inline_secret
from torghut_sim.secrets import dsn_database, dsn_with_database


class KafkaSpec(Section):
    """Kafka for the dump (base fields) and for the runtime (`runtime_*` twins, defaulting to the base)."""

    bootstrap_servers: str
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    sasl_password_env: str | None = None
    runtime_bootstrap_servers: str | None = None
    runtime_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    runtime_sasl_mechanism: str | None = None
    runtime_sasl_username: str | None = None
    runtime_sasl_password: str | None = None
    runtime_sasl_password_env: str | None = None
    default_partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)

    @field_validator("sasl_password", "runtime_sasl_password")
    @classmethod
    def _no_secret(cls, value: str | None) -> str | None:
        """Kafka passwords come from `*_sasl_password_env`."""
        return no_inline_secret(value, "kafka.sasl_password", "sasl_password_env")

    @model_validator(mode="after")
    def _runtime_twins(self) -> KafkaSpec:
        """Each unset runtime twin takes its base value."""
        if self.runtime_bootstrap_servers is None:
            self.runtime_bootstrap_servers = self.bootstrap_servers
        if self.runtime_security_protocol is None:
            self.runtime_security_protocol = self.security_protocol
        if self.runtime_sasl_mechanism is None:
            self.runtime_sasl_mechanism = self.sasl_mechanism
        if self.runtime_sasl_username is None:
            self.runtime_sasl_username = self.sasl_username
        if self.runtime_sasl_password_env is None:
            self.runtime_sasl_password_env = self.sasl_password_env
        return self


class ClickHouseSpec(Section):
    """ClickHouse over HTTP; the password comes from `password_env`."""

    http_url: str
    username: str = "default"
    password: str | None = None
    password_env: str | None = None
    password_secret_name: str | None = None
    password_secret_key: str | None = None
    secret_namespace: str | None = None
    simulation_database: str | None = None

    @field_validator("password")
    @classmethod
    def _no_secret(cls, value: str | None) -> str | None:
        """ClickHouse passwords come from `password_env`."""
        return no_inline_secret(value, "clickhouse.password", "password_env")


class PostgresSpec(Section):
    """Postgres: the admin DSN that creates the simulation database, and the simulation DSNs."""

    admin_dsn: str | None = None
    admin_dsn_env: str | None = None
    admin_dsn_password_env: str | None = None
    simulation_dsn: str | None = None
    simulation_dsn_template: str | None = None
    simulation_dsn_password_env: str | None = None
    runtime_simulation_dsn: str | None = None
    runtime_simulation_dsn_template: str | None = None
    runtime_simulation_dsn_password_env: str | None = None
    migrations_command: str | None = None

    @field_validator(
        "admin_dsn",
        "simulation_dsn",
        "simulation_dsn_template",
        "runtime_simulation_dsn",
        "runtime_simulation_dsn_template",
    )
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        """DSNs in the file carry no password."""
        return no_dsn_password(value, "postgres DSN")

    @model_validator(mode="after")
    def _consistent(self) -> PostgresSpec:
        """Exactly one admin source, at least one simulation DSN form, runtime twins defaulted."""
        if (self.admin_dsn is None) == (self.admin_dsn_env is None):
            raise ValueError("set exactly one of admin_dsn or admin_dsn_env")
        if self.simulation_dsn is None and self.simulation_dsn_template is None:
            raise ValueError("set simulation_dsn or simulation_dsn_template")
        for name in ("simulation_dsn_template", "runtime_simulation_dsn_template"):
            template = getattr(self, name)
            if template is not None and "{db}" not in template:
                raise ValueError(f"{name} must contain the placeholder {{db}}")
        if self.runtime_simulation_dsn is None and self.runtime_simulation_dsn_template is None:
            self.runtime_simulation_dsn = self.simulation_dsn
            self.runtime_simulation_dsn_template = self.simulation_dsn_template
        if self.runtime_simulation_dsn_password_env is None:
            self.runtime_simulation_dsn_password_env = self.simulation_dsn_password_env
        return self

    def simulation_database(self, default: str) -> str:
        """The simulation database: the one a fixed `simulation_dsn` names, else `default`."""
        return dsn_database(self.simulation_dsn) if self.simulation_dsn else default

    def simulation_dsn_for(self, database: str) -> str:
        """The (password-less) simulation DSN for a database."""
        return _dsn_for(self.simulation_dsn, self.simulation_dsn_template, database)

    def runtime_simulation_dsn_for(self, database: str) -> str:
        """The (password-less) DSN the runtime uses for a database."""
        return _dsn_for(self.runtime_simulation_dsn, self.runtime_simulation_dsn_template, database)


def _dsn_for(fixed: str | None, template: str | None, database: str) -> str:
    """A fixed DSN as written, else the template with `{db}` filled in."""
    if fixed is not None:
        return fixed
    if template is None:
        raise ManifestError("no simulation DSN or template", reason="invalid_manifest")
    return template.replace("{db}", database)


def with_simulation_database(postgres: PostgresSpec, database: str) -> PostgresSpec:
    """A copy of the Postgres section whose fixed DSNs point at `database` (templates unchanged)."""
    update: dict[str, Any] = {}
    if postgres.simulation_dsn is not None:
        update["simulation_dsn"] = dsn_with_database(postgres.simulation_dsn, database)
    if postgres.runtime_simulation_dsn is not None:
        update["runtime_simulation_dsn"] = dsn_with_database(postgres.runtime_simulation_dsn, database)
    return postgres.model_copy(update=update)
