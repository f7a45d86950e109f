"""Evidence export: the run's Postgres tables and ClickHouse figures as Parquet under `outputs/`.

Scope follows the report contract: decisions whose
`decision_json->'params'->'simulation_context'->>'simulation_run_id'` is the run id (all decisions when
none carries one), executions by decision, order events and TCA by execution or decision, LLM reviews by
decision; `trade_cursor` whole; `simulation_run_progress` rows of the run (all when none carries it).

Each table is streamed with `COPY (SELECT ...) TO STDOUT (FORMAT csv)` into a spool file and parsed by
Arrow's CSV reader straight into the exact `EXPORT_SCHEMAS` types, batch by batch, so no Python object
is built per row. Postgres renders every value as text in the SELECT (numerics rounded to the schema's
scale of 10, timestamps as UTC ISO-8601), so decimals arrive exact and timestamps unambiguous.
`export-manifest.json` records rows and the sha256 of every file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import sql

from torghut_sim.atomic_file import write_json_atomic
from torghut_sim.export_schema import DECIMAL, EXPORT_SCHEMAS, TS
from torghut_sim.layout import CLICKHOUSE_EXPORTS, RunPaths
from torghut_sim.secrets import redact_dsn
from torghut_sim.stores.clickhouse_provision import (
    ClickHouseEndpoint,
    last_prices,
    table_progress,
)
from torghut_sim.stores.errors import ExportError
from torghut_sim.stores.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from torghut_sim.tables import CLICKHOUSE_TABLES, POSTGRES_TABLES

EXPORT_SCHEMA_VERSION = "torghut.simulation-export.v1"
_RUN_ID_PATH = "decision_json -> 'params' -> 'simulation_context' ->> 'simulation_run_id'"
_CSV_BLOCK_BYTES = 8 << 20
# Deterministic row order per table, by output column.
_ORDER_BY: dict[str, tuple[str, ...]] = {
    "trade_decisions": ("created_at", "id"),
    "executions": ("created_at", "id"),
    "execution_order_events": ("event_ts", "source_partition", "source_offset", "id"),
    "execution_tca_metrics": ("computed_at", "execution_id"),
    "llm_decision_reviews": ("created_at", "id"),
    "trade_cursor": ("source", "account_label"),
    "simulation_run_progress": ("run_id", "component"),
}


@dataclass(frozen=True)
class ExportedFile:
    """One Parquet file of the export."""

    table: str
    file: str
    rows: int
    sha256: str
    source: str
    missing_columns: tuple[str, ...] = ()
    missing_table: bool = False


@dataclass(frozen=True)
class ExportManifest:
    """What `export-manifest.json` holds."""

    run_id: str
    decisions_scoped_by_run_id: bool
    postgres: str
    clickhouse_database: str | None
    files: tuple[ExportedFile, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        """The manifest as written to disk."""
        return {
            "schema_version": EXPORT_SCHEMA_VERSION,
            "run_id": self.run_id,
            "scope": {"decisions_scoped_by_run_id": self.decisions_scoped_by_run_id},
            "sources": {"postgres": self.postgres, "clickhouse_database": self.clickhouse_database},
            "files": {f.table: {k: v for k, v in asdict(f).items() if k != "table"} for f in self.files},
        }


def _column_expr(name: str, dtype: pa.DataType, present: bool) -> sql.Composable:
    col = sql.Identifier(name)
    if dtype == TS:
        value: sql.Composable = sql.SQL(
            """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
        ).format(col)
    elif dtype == DECIMAL:
        value = sql.SQL("round({}::numeric, 10)").format(col)
    elif dtype == pa.int64():
        value = sql.SQL("{}::bigint").format(col)
    elif dtype == pa.int32():
        value = sql.SQL("{}::integer").format(col)
    else:
        value = sql.SQL("{}::text").format(col)
    if not present:
        value = sql.SQL("NULL")
    return sql.SQL("{} AS {}").format(value, col)


_Conn = psycopg.Connection[tuple[object, ...]]


def _scope_filters(conn: _Conn, run_id: str) -> tuple[dict[str, sql.Composable], bool]:
    """The WHERE clause per table for this run, and whether decisions are scoped by run id."""
    marked = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM trade_decisions WHERE {} IS NOT NULL)").format(
            sql.SQL(_RUN_ID_PATH)
        )
    ).fetchone()
    scoped = bool(marked and marked[0])
    progress = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM simulation_run_progress WHERE run_id = %s)", (run_id,)
    ).fetchone()
    everything = sql.SQL("TRUE")
    filters: dict[str, sql.Composable] = dict.fromkeys(POSTGRES_TABLES, everything)
    if progress and progress[0]:
        filters["simulation_run_progress"] = sql.SQL("run_id = {}").format(sql.Literal(run_id))
    if scoped:
        decisions = sql.SQL("SELECT id FROM trade_decisions WHERE {} = {}").format(
            sql.SQL(_RUN_ID_PATH), sql.Literal(run_id)
        )
        executions = sql.SQL("SELECT id FROM executions WHERE trade_decision_id IN ({})").format(decisions)
        filters["trade_decisions"] = sql.SQL("{} = {}").format(sql.SQL(_RUN_ID_PATH), sql.Literal(run_id))
        filters["executions"] = sql.SQL("trade_decision_id IN ({})").format(decisions)
        by_execution = sql.SQL("execution_id IN ({}) OR trade_decision_id IN ({})").format(
            executions, decisions
        )
        filters["execution_order_events"] = by_execution
        filters["execution_tca_metrics"] = by_execution
        filters["llm_decision_reviews"] = sql.SQL("trade_decision_id IN ({})").format(decisions)
    return filters, scoped


def _existing_columns(conn: _Conn, table: str) -> set[str] | None:
    rows = conn.execute(
        "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(quote_ident(%s)) "
        "AND a.attnum > 0 AND NOT a.attisdropped",
        (table,),
    ).fetchall()
    exists = conn.execute("SELECT to_regclass(quote_ident(%s)) IS NOT NULL", (table,)).fetchone()
    return {str(r[0]) for r in rows} if exists and exists[0] else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_table(table: pa.Table, target: Path) -> None:
    tmp = target.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, target)


def _csv_to_parquet(spool: Path, schema: pa.Schema, target: Path) -> int:
    """Parse the COPY output into exactly `schema` and write it as Parquet; the number of rows."""
    tmp = target.with_suffix(".parquet.tmp")
    rows = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        if spool.stat().st_size:
            reader = pa_csv.open_csv(
                spool,
                read_options=pa_csv.ReadOptions(column_names=schema.names, block_size=_CSV_BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    column_types=schema,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
                rows += batch.num_rows
    os.replace(tmp, target)
    return rows


def _export_postgres_table(conn: _Conn, table: str, where: sql.Composable, paths: RunPaths) -> ExportedFile:
    schema = EXPORT_SCHEMAS[table]
    target = paths.output_table(table)
    columns = _existing_columns(conn, table)
    if columns is None:
        _write_table(schema.empty_table(), target)
        return ExportedFile(table, target.name, 0, _sha256(target), "postgres", missing_table=True)
    missing = tuple(n for n in schema.names if n not in columns)
    select = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {}").format(
        sql.SQL(", ").join(_column_expr(f.name, f.type, f.name not in missing) for f in schema),
        sql.Identifier(table),
        where,
        sql.SQL(", ").join(sql.SQL("{} NULLS LAST").format(sql.Identifier(c)) for c in _ORDER_BY[table]),
    )
    spool = target.with_suffix(".csv.spool")
    try:
        copy_sql = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(select)
        with spool.open("wb") as fh, conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for chunk in copy:
                fh.write(chunk)
        rows = _csv_to_parquet(spool, schema, target)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ExportError(f"exporting {table}: {exc}") from exc
    finally:
        spool.unlink(missing_ok=True)
    return ExportedFile(table, target.name, rows, _sha256(target), "postgres", missing_columns=missing)


def export_postgres(
    paths: RunPaths, simulation_dsn: str, run_id: str, retry: RetryPolicy = DEFAULT_RETRY
) -> tuple[list[ExportedFile], bool]:
    """Export every Postgres simulation table of the run; the files and whether decisions were scoped."""
    paths.outputs_dir.mkdir(parents=True, exist_ok=True)

    def attempt() -> tuple[list[ExportedFile], bool]:
        with psycopg.connect(simulation_dsn, connect_timeout=10) as conn:
            # One snapshot for every table, so the files agree with each other.
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            filters, scoped = _scope_filters(conn, run_id)
            files = [_export_postgres_table(conn, t, filters[t], paths) for t in POSTGRES_TABLES]
            conn.rollback()
        return files, scoped

    try:
        return with_retry(attempt, retry)
    except psycopg.Error as exc:
        raise ExportError(f"exporting from {redact_dsn(simulation_dsn)}: {exc}") from exc


def export_clickhouse(
    paths: RunPaths,
    endpoint: ClickHouseEndpoint | None,
    database: str | None,
    tables: Sequence[str] = CLICKHOUSE_TABLES,
) -> list[ExportedFile]:
    """Write `last_prices` and `clickhouse_counts`; empty files when no ClickHouse database is given."""
    paths.outputs_dir.mkdir(parents=True, exist_ok=True)
    prices: dict[str, list[object]] = {"symbol": [], "last_price": [], "last_event_ts": []}
    counts: dict[str, list[object]] = {"table": [], "rows": [], "max_event_ts": []}
    if endpoint is not None and database is not None:
        table_names = {p.table for p in table_progress(endpoint, database, tables)}
        for price in last_prices(endpoint, database) if "ta_microbars" in table_names else []:
            prices["symbol"].append(price.symbol)
            prices["last_price"].append(price.price)
            prices["last_event_ts"].append(price.event_ts)
        for progress in table_progress(endpoint, database, tables):
            counts["table"].append(progress.table)
            counts["rows"].append(progress.rows)
            counts["max_event_ts"].append(progress.max_event_ts)
    out: list[ExportedFile] = []
    for name, data in zip(CLICKHOUSE_EXPORTS, (prices, counts), strict=True):
        target = paths.output_table(name)
        table = pa.Table.from_pydict(data, schema=EXPORT_SCHEMAS[name])
        _write_table(table, target)
        out.append(ExportedFile(name, target.name, table.num_rows, _sha256(target), "clickhouse"))
    return out


def export_run(
    paths: RunPaths,
    simulation_dsn: str,
    run_id: str,
    clickhouse: ClickHouseEndpoint | None = None,
    clickhouse_database: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> ExportManifest:
    """Export the run's evidence to `outputs/` and write `export-manifest.json`."""
    pg_files, scoped = export_postgres(paths, simulation_dsn, run_id, retry)
    ch_files = export_clickhouse(paths, clickhouse, clickhouse_database)
    manifest = ExportManifest(
        run_id=run_id,
        decisions_scoped_by_run_id=scoped,
        postgres=redact_dsn(simulation_dsn),
        clickhouse_database=clickhouse_database,
        files=tuple(pg_files + ch_files),
    )
    write_json_atomic(paths.export_manifest, manifest.to_json())
    return manifest
