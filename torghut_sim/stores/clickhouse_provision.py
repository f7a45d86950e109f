"""Provisioning of the simulation ClickHouse database, and the progress figures the monitor reads.

The simulation database is created on every given server (one, or each replica of a cluster) and both
tables are cloned from the production DDL (`SHOW CREATE TABLE` on the first server, rewritten by
`clickhouse_ddl`), then truncated, so a re-provision starts empty with the current production schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from torghut_sim.stores.clickhouse_ddl import quote_identifier, rewrite_create_table
from torghut_sim.stores.errors import ClickHouseProvisionError
from torghut_sim.stores.safety import require_simulation_database
from torghut_sim.tables import CLICKHOUSE_TABLES

log = logging.getLogger(__name__)

PRODUCTION_DATABASE = "torghut"
PRICE_SCALE = Decimal("1e-10")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ClickHouseEndpoint:
    """One ClickHouse server reached over HTTP; `http_url` may carry a path prefix (proxy path)."""

    http_url: str
    username: str = "default"
    password: str = field(default="", repr=False)

    def client(self, database: str | None = None) -> Any:
        """A clickhouse-connect HTTP client for this server."""
        parts = urlsplit(self.http_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ClickHouseProvisionError(f"not an HTTP URL: {self.redacted()}")
        secure = parts.scheme == "https"
        return clickhouse_connect.get_client(
            host=parts.hostname,
            port=parts.port or (8443 if secure else 8123),
            username=self.username,
            password=self.password,
            database=database,
            secure=secure,
            proxy_path=parts.path.rstrip("/"),
            # DDL and truncation must not be retried blindly by the driver; ours are idempotent anyway.
            query_retries=0,
            autogenerate_session_id=False,
        )

    def redacted(self) -> str:
        """The URL without any credentials, for logs and artifacts."""
        parts = urlsplit(self.http_url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(frozen=True)
class ClickHouseProvisionResult:
    """The simulation database, the servers it was created on and the DDL used per table."""

    database: str
    servers: tuple[str, ...]
    ddl: dict[str, str]
    # The servers on which the database did not exist before this call (what a rollback may drop).
    created_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableProgress:
    """Rows and the latest event time of one simulation table (`max_event_ts` None when empty)."""

    table: str
    rows: int
    max_event_ts: datetime | None


@dataclass(frozen=True)
class LastPrice:
    """The last microbar close of one symbol: the mark for unrealized P&L."""

    symbol: str
    price: Decimal
    event_ts: datetime


def _fail(endpoint: ClickHouseEndpoint, action: str, exc: Exception) -> ClickHouseProvisionError:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ClickHouseProvisionError(f"{action} on {endpoint.redacted()} failed: {first_line}")


def _ident(database: str, table: str) -> str:
    return f"{quote_identifier(database)}.{quote_identifier(table)}"


def production_ddl(
    endpoint: ClickHouseEndpoint,
    production_database: str = PRODUCTION_DATABASE,
    tables: Iterable[str] = CLICKHOUSE_TABLES,
) -> dict[str, str]:
    """`SHOW CREATE TABLE` of each production table."""
    out: dict[str, str] = {}
    try:
        client = endpoint.client()
        for table in tables:
            rows = client.query(f"SHOW CREATE TABLE {_ident(production_database, table)}").result_rows
            out[table] = str(rows[0][0])
    except (ClickHouseError, OSError) as exc:
        raise _fail(endpoint, f"SHOW CREATE TABLE in {production_database}", exc) from exc
    return out


def provision_clickhouse(
    endpoints: Sequence[ClickHouseEndpoint],
    simulation_database: str,
    production_database: str = PRODUCTION_DATABASE,
    tables: Sequence[str] = CLICKHOUSE_TABLES,
) -> ClickHouseProvisionResult:
    """Create the simulation database on every server, clone the tables without TTL, truncate them."""
    if not endpoints:
        raise ClickHouseProvisionError("no ClickHouse server given")
    require_simulation_database(simulation_database, [production_database])
    source = production_ddl(endpoints[0], production_database, tables)
    ddl = {table: rewrite_create_table(text, simulation_database) for table, text in source.items()}
    created_on: list[str] = []
    for endpoint in endpoints:
        try:
            client = endpoint.client()
            existed = client.query(
                "SELECT count() FROM system.databases WHERE name = {db:String}",
                parameters={"db": simulation_database},
            ).result_rows[0][0]
            client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(simulation_database)}")
            if not existed:
                created_on.append(endpoint.redacted())
            for table in tables:
                client.command(ddl[table])
                client.command(f"TRUNCATE TABLE IF EXISTS {_ident(simulation_database, table)}")
        except (ClickHouseError, OSError) as exc:
            # Nothing half-made: the databases this call created are dropped again before it fails.
            _drop_created(endpoints, created_on, simulation_database)
            raise _fail(endpoint, f"provisioning {simulation_database}", exc) from exc
    return ClickHouseProvisionResult(
        database=simulation_database,
        servers=tuple(e.redacted() for e in endpoints),
        ddl=ddl,
        created_on=tuple(created_on),
    )


def _drop_created(endpoints: Sequence[ClickHouseEndpoint], created_on: Sequence[str], database: str) -> None:
    """Drop `database` on the servers where it was just created (best effort: the cause is what matters)."""
    for endpoint in endpoints:
        if endpoint.redacted() in created_on:
            try:
                drop_simulation_database(endpoint, database)
            except ClickHouseProvisionError:
                log.warning(
                    "could not drop the half-provisioned database %s on %s", database, endpoint.redacted()
                )


def _ts(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def existing_tables(client: Any, database: str) -> set[str]:
    """The tables of `database` on a clickhouse-connect client's server (empty when it does not exist)."""
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).result_rows
    return {str(r[0]) for r in rows}


def table_progress(
    endpoint: ClickHouseEndpoint, database: str, tables: Iterable[str] = CLICKHOUSE_TABLES
) -> list[TableProgress]:
    """Row count and latest `event_ts` of each table (a missing table counts as empty)."""
    out: list[TableProgress] = []
    try:
        client = endpoint.client()
        existing = existing_tables(client, database)
        for table in tables:
            if table not in existing:
                out.append(TableProgress(table, 0, None))
                continue
            row = client.query(
                f"SELECT count(), toUnixTimestamp64Micro(max(event_ts)) FROM {_ident(database, table)}"
            ).result_rows[0]
            rows = int(row[0])
            out.append(TableProgress(table, rows, _ts(int(row[1])) if rows else None))
    except (ClickHouseError, OSError) as exc:
        raise _fail(endpoint, f"progress of {database}", exc) from exc
    return out


def latest_event_ts(endpoint: ClickHouseEndpoint, database: str) -> datetime | None:
    """The latest `event_ts` over the simulation tables, or None while they are empty."""
    times = [p.max_event_ts for p in table_progress(endpoint, database) if p.max_event_ts is not None]
    return max(times) if times else None


def last_prices(endpoint: ClickHouseEndpoint, database: str, table: str = "ta_microbars") -> list[LastPrice]:
    """The last close per symbol, by (event_ts, seq), with the close kept as its exact decimal text."""
    query = (
        "SELECT symbol, toString(argMax(c, (event_ts, seq))), toUnixTimestamp64Micro(max(event_ts)) "
        f"FROM {_ident(database, table)} GROUP BY symbol ORDER BY symbol"
    )
    try:
        rows = endpoint.client().query(query).result_rows
    except (ClickHouseError, OSError) as exc:
        raise _fail(endpoint, f"last prices of {database}", exc) from exc
    # Float64 closes are rendered by ClickHouse as their shortest round-trip text, so the decimal is
    # the price as written, not the binary float's expansion.
    return [
        LastPrice(str(symbol), Decimal(str(close)).quantize(PRICE_SCALE), _ts(int(micros)))
        for symbol, close, micros in rows
    ]


def list_simulation_databases(endpoint: ClickHouseEndpoint) -> list[str]:
    """Every database on the server in the simulation namespace."""
    try:
        rows = (
            endpoint.client()
            .query("SELECT name FROM system.databases WHERE startsWith(name, 'torghut_sim_') ORDER BY name")
            .result_rows
        )
    except (ClickHouseError, OSError) as exc:
        raise _fail(endpoint, "listing databases", exc) from exc
    return [str(r[0]) for r in rows]


def drop_simulation_database(endpoint: ClickHouseEndpoint, database: str) -> None:
    """Drop one simulation database (refusing any other name)."""
    require_simulation_database(database)
    try:
        endpoint.client().command(f"DROP DATABASE IF EXISTS {quote_identifier(database)} SYNC")
    except (ClickHouseError, OSError) as exc:
        raise _fail(endpoint, f"dropping {database}", exc) from exc
