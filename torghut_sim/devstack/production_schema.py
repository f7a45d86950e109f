"""The local "production" ClickHouse database (`torghut` by default): `ta_microbars` and `ta_signals` with
the production columns, partitioning, ordering and TTL of CONTRACTS §5.

Production uses `ReplicatedReplacingMergeTree`; the local stack has no keeper, so the local tables use
`ReplacingMergeTree(ingest_ts)` with otherwise identical DDL. Idempotent (`IF NOT EXISTS`); the database
name is injectable so tests can own a private "production" database.
"""

from __future__ import annotations

from typing import Any

from torghut_sim.stores.clickhouse_ddl import quote_identifier

PRODUCTION_DATABASE = "torghut"

# (name, type) of every column, in table order: the DDL below and the reference TA's inserts use them.
SHARED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("symbol", "LowCardinality(String)"),
    ("event_ts", "DateTime64(3, 'UTC')"),
    ("seq", "UInt64"),
    ("ingest_ts", "DateTime64(3, 'UTC')"),
    ("is_final", "UInt8"),
    ("source", "LowCardinality(String)"),
    ("window_size", "LowCardinality(String)"),
    ("window_step", "Nullable(String)"),
    ("window_start", "Nullable(DateTime64(3, 'UTC'))"),
    ("window_end", "Nullable(DateTime64(3, 'UTC'))"),
    ("version", "UInt32"),
)
SIGNAL_FLOATS: tuple[str, ...] = (
    "macd",
    "macd_signal",
    "macd_hist",
    "ema12",
    "ema26",
    "rsi14",
    "boll_mid",
    "boll_upper",
    "boll_lower",
    "vwap_session",
    "vwap_w5m",
    "imbalance_spread",
    "imbalance_bid_px",
    "imbalance_ask_px",
    "vol_realized_w60s",
)
TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "ta_microbars": (
        *SHARED_COLUMNS,
        ("o", "Float64"),
        ("h", "Float64"),
        ("l", "Float64"),
        ("c", "Float64"),
        ("v", "Float64"),
        ("vwap", "Nullable(Float64)"),
        ("count", "UInt64"),
    ),
    "ta_signals": (
        *SHARED_COLUMNS,
        *((name, "Nullable(Float64)") for name in SIGNAL_FLOATS),
        ("imbalance_bid_sz", "Nullable(UInt64)"),
        ("imbalance_ask_sz", "Nullable(UInt64)"),
        ("microstructure_signal_v1", "Nullable(String)"),
    ),
}


def column_names(table: str) -> list[str]:
    """The column names of a production table, in table order."""
    return [name for name, _ in TABLE_COLUMNS[table]]


_TAIL = """
ENGINE = ReplacingMergeTree(ingest_ts)
PARTITION BY toDate(event_ts)
ORDER BY (symbol, event_ts, seq)
TTL toDateTime(event_ts) + INTERVAL 35 DAY
SETTINGS index_granularity = 8192"""


def production_ddl(database: str = PRODUCTION_DATABASE) -> dict[str, str]:
    """The CREATE TABLE statement of each production table in `database`."""
    return {
        table: (
            f"CREATE TABLE IF NOT EXISTS {quote_identifier(database)}.{quote_identifier(table)}\n("
            + ",".join(f"\n    {name} {kind}" for name, kind in columns)
            + f"\n){_TAIL}"
        )
        for table, columns in TABLE_COLUMNS.items()
    }


def ensure_production_schema(client: Any, database: str = PRODUCTION_DATABASE) -> None:
    """Create the production database and both tables on a clickhouse-connect client, if missing."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
    for ddl in production_ddl(database).values():
        client.command(ddl)
