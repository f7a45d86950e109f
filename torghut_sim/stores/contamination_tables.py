"""Production tables for the contamination check: window rows in ClickHouse, run-marked rows in Postgres."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import psycopg
from clickhouse_connect.driver.exceptions import ClickHouseError
from psycopg import sql

from torghut_sim.secrets import redact_dsn
from torghut_sim.stores.clickhouse_ddl import quote_identifier
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint, existing_tables
from torghut_sim.stores.contamination_run import RunIdentity
from torghut_sim.stores.errors import StoreError
from torghut_sim.stores.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from torghut_sim.tables import POSTGRES_TABLES

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RUN_ID_PATH = "decision_json -> 'params' -> 'simulation_context' ->> 'simulation_run_id'"


# --- ClickHouse ---------------------------------------------------------------------------------------


def _micros(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise StoreError("window bounds must be timezone-aware")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def clickhouse_window_figures(
    endpoint: ClickHouseEndpoint, database: str, tables: Sequence[str], run: RunIdentity
) -> dict[str, dict[str, int | None] | None]:
    """Rows, distinct keys and latest ingest time in the window, per production table (None: missing)."""
    out: dict[str, dict[str, int | None] | None] = {}
    try:
        client = endpoint.client()
        existing = existing_tables(client, database)
        for table in tables:
            if table not in existing:
                out[table] = None
                continue
            row = client.query(
                "SELECT count(), uniqExact(symbol, event_ts, seq), toUnixTimestamp64Micro(max(ingest_ts)) "
                f"FROM {quote_identifier(database)}.{quote_identifier(table)} "
                f"WHERE event_ts >= fromUnixTimestamp64Micro({_micros(run.window_start)}, 'UTC') "
                f"AND event_ts <= fromUnixTimestamp64Micro({_micros(run.window_end)}, 'UTC')"
            ).result_rows[0]
            rows = int(row[0])
            latest = int(row[2]) if rows else None
            out[table] = {"rows": rows, "keys": int(row[1]), "max_ingest_ts_us": latest}
    except (ClickHouseError, OSError) as exc:
        raise StoreError(f"snapshot of production ClickHouse {endpoint.redacted()} failed: {exc}") from exc
    return out


# --- Postgres -----------------------------------------------------------------------------------------


def _like(marker: str) -> sql.Composable:
    escaped = marker.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sql.Literal(f"%{escaped}%")


def _postgres_queries(run: RunIdentity, columns: Mapping[str, set[str]]) -> dict[str, sql.Composed]:
    """The attributable-row count query of each production table that exists."""
    any_marker = sql.SQL(" OR ").join(
        sql.SQL("decision_json::text LIKE {}").format(_like(m)) for m in run.markers
    )
    decisions = sql.SQL("SELECT id FROM trade_decisions WHERE {} = {} OR {}").format(
        sql.SQL(_RUN_ID_PATH), sql.Literal(run.run_id), any_marker
    )
    token_like = _like(run.run_token)
    queries: dict[str, sql.Composed] = {}
    if "trade_decisions" in columns:
        queries["trade_decisions"] = sql.SQL("SELECT count(*) FROM ({}) d").format(decisions)
    if "executions" in columns:
        marked: sql.Composed = sql.SQL("trade_decision_id IN ({})").format(decisions)
        if "client_order_id" in columns["executions"]:
            marked = sql.SQL("{} OR client_order_id LIKE {}").format(marked, token_like)
        queries["executions"] = sql.SQL("SELECT count(*) FROM executions WHERE {}").format(marked)
    executions = (
        sql.SQL("SELECT id FROM executions WHERE trade_decision_id IN ({})").format(decisions)
        if "executions" in columns
        else sql.SQL("SELECT NULL::uuid WHERE FALSE")
    )
    for table in ("execution_order_events", "execution_tca_metrics"):
        if table in columns:
            marked = sql.SQL("trade_decision_id IN ({}) OR execution_id IN ({})").format(
                decisions, executions
            )
            if "source_topic" in columns[table]:
                marked = sql.SQL("{} OR source_topic LIKE {}").format(marked, token_like)
            queries[table] = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier(table), marked)
    if "llm_decision_reviews" in columns:
        queries["llm_decision_reviews"] = sql.SQL(
            "SELECT count(*) FROM llm_decision_reviews WHERE trade_decision_id IN ({})"
        ).format(decisions)
    if "simulation_run_progress" in columns:
        queries["simulation_run_progress"] = sql.SQL(
            "SELECT count(*) FROM simulation_run_progress WHERE run_id = {}"
        ).format(sql.Literal(run.run_id))
    if "trade_cursor" in columns:
        queries["trade_cursor"] = sql.SQL(
            "SELECT count(*) FROM trade_cursor WHERE cursor_at >= {} AND cursor_at <= {}"
        ).format(sql.Literal(run.window_start), sql.Literal(run.window_end))
    return queries


def postgres_attributable_counts(
    dsn: str, run: RunIdentity, retry: RetryPolicy = DEFAULT_RETRY
) -> dict[str, int | None]:
    """Counts of production rows carrying the run's markers, per table (None: table missing)."""

    def attempt() -> dict[str, int | None]:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
                "WHERE c.oid = ANY (SELECT to_regclass(quote_ident(t)) FROM unnest(%s::text[]) t) "
                "AND a.attnum > 0 AND NOT a.attisdropped",
                (list(POSTGRES_TABLES),),
            ).fetchall()
            columns: dict[str, set[str]] = {}
            for table, column in rows:
                columns.setdefault(str(table), set()).add(str(column))
            out: dict[str, int | None] = dict.fromkeys(POSTGRES_TABLES)
            for table, query in _postgres_queries(run, columns).items():
                row = conn.execute(query).fetchone()
                out[table] = int(row[0]) if row else 0
            return out

    try:
        return with_retry(attempt, retry)
    except psycopg.Error as exc:
        raise StoreError(f"snapshot of production Postgres {redact_dsn(dsn)} failed: {exc}") from exc
