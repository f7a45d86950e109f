"""The refusals and failures of the simulation stores, each with a stable snake_case reason code."""

from __future__ import annotations

from torghut_sim.errors import TorghutSimError


class StoreError(TorghutSimError):
    """A simulation store could not be provisioned, read or cleaned."""

    reason = "store_error"


class UnsafeNameError(StoreError):
    """A database or topic name is outside the simulation namespace or names a production object."""

    reason = "unsafe_simulation_name"


class ClickHouseDDLError(StoreError):
    """A production `CREATE TABLE` statement has a shape the rewrite does not understand."""

    reason = "clickhouse_ddl_unsupported"


class ClickHouseProvisionError(StoreError):
    """The simulation ClickHouse database could not be created, cloned or truncated."""

    reason = "clickhouse_provision_failed"


class MigrationFailedError(StoreError):
    """The migrations command exited non-zero or timed out; the message carries its last lines."""

    reason = "migration_failed"


class PostgresProvisionError(StoreError):
    """The simulation Postgres database could not be created, granted, truncated or seeded."""

    reason = "postgres_provision_failed"


class MissingTablesError(StoreError):
    """The migrations ran but the tables the runtime and the export need are not there."""

    reason = "simulation_tables_missing"


class ExportError(StoreError):
    """The evidence export could not read a simulation table or write its Parquet file."""

    reason = "export_failed"


class ContaminationDetectedError(StoreError):
    """Production data changed in a way attributable to the simulation run."""

    reason = "contamination_detected"


class CleanupRefusedError(StoreError):
    """Cleanup was asked to drop something it must never drop."""

    reason = "cleanup_refused"
