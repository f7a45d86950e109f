"""Provisioning both simulation databases of a run as one step: all of it, or none of what it created.

Postgres goes first (its migrations are what fails most often, and a Postgres outage then leaves nothing
in ClickHouse); when ClickHouse fails afterwards, a Postgres database created by this step is dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from torghut_sim.stores.cleanup import drop_postgres_database
from torghut_sim.stores.clickhouse_provision import (
    ClickHouseEndpoint,
    ClickHouseProvisionResult,
    provision_clickhouse,
)
from torghut_sim.stores.errors import StoreError
from torghut_sim.stores.postgres_provision import PostgresPlan, PostgresProvisionResult, provision_postgres
from torghut_sim.stores.retry import DEFAULT_RETRY, RetryPolicy


def provision_databases(
    clickhouse: Sequence[ClickHouseEndpoint],
    clickhouse_database: str,
    postgres: PostgresPlan,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> tuple[ClickHouseProvisionResult, PostgresProvisionResult]:
    """Both simulation databases, created (if missing), migrated and emptied; nothing half-made on failure."""
    pg = provision_postgres(postgres, retry)
    try:
        ch = provision_clickhouse(clickhouse, clickhouse_database)
    except BaseException:
        if pg.created:
            # The error that got us here is what the caller must see, not a failed rollback.
            with contextlib.suppress(StoreError, OSError):
                drop_postgres_database(postgres.admin_dsn, pg.database, RetryPolicy(attempts=1))
        raise
    return ch, pg
