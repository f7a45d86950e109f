"""The reports catalog: one DuckDB file of views over every day's report Parquet, for cross-day analysis.

Views read `<output_root>/*/report/<table>.parquet` by glob, so a day reported after the catalog was built
appears without rebuilding it; the `period_*` views read every period report under `<output_root>/periods/`
the same way (each row names its `period_id`). DuckDB binds a view when it is created and refuses a glob
with no file yet, so a table nothing has written is left out (and listed) until the next build. The file is
built beside the catalog and moved into place, so an analyst holding the old one open never blocks (or sees
half) a build.
The table `day_runs` is the day-run registry (`registry.py`) as of the build: every run directory a
pipeline touched, reported or not, with its outcome, evidence paths and hashes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from torghut_sim.report.period.layout import PERIOD_DAYS, PERIOD_SYMBOL_DAYS, PERIOD_SYMBOLS, PERIODS_DIR
from torghut_sim.report.registry import day_runs

CATALOG_NAME = "reports-catalog.duckdb"
# View name → the report table file each day writes under `<run dir>/report/`.
TABLE_VIEWS: dict[str, str] = {
    "runs": "report-summary.parquet",
    "trade_pnl": "trade-pnl.parquet",
    "execution_latency": "execution-latency.parquet",
    "llm_reviews": "llm-review-summary.parquet",
    "equity_curve": "equity-curve.parquet",
}
# View name → the table each period report writes under `<output_root>/periods/<period_id>/`.
PERIOD_VIEWS: dict[str, str] = {
    "period_days": f"{PERIOD_DAYS}.parquet",
    "period_symbols": f"{PERIOD_SYMBOLS}.parquet",
    "period_symbol_days": f"{PERIOD_SYMBOL_DAYS}.parquet",
}
# The run directory's name is the run token: it joins every table of one run.
RUN_TOKEN_SQL = r"regexp_extract(filename, '([^/\\]+)[/\\]report[/\\][^/\\]+$', 1)"
VERDICTS_SQL = (
    "CREATE VIEW verdicts AS SELECT trading_day, run_id, run_token, verdict, "
    "string_split(NULLIF(verdict_reasons, ''), ',') AS reasons, net, source_file "
    "FROM runs ORDER BY trading_day, run_id"
)


# The registry table's columns (kept explicit so a catalog without any run still has the table).
DAY_RUNS_SCHEMA = pa.schema(
    [
        ("run_token", pa.string()),
        ("run_id", pa.string()),
        ("trading_day", pa.date32()),
        ("dataset_id", pa.string()),
        ("outcome", pa.string()),
        ("done", pa.bool_()),
        ("reason", pa.string()),
        ("run_status", pa.string()),
        ("verdict", pa.string()),
        ("verdict_reasons", pa.string()),
        ("dump_status", pa.string()),
        ("dump_records", pa.int64()),
        ("dump_sha256", pa.string()),
        ("dump_payload_sha256", pa.string()),
        ("report_sha256", pa.string()),
        ("restore_required", pa.bool_()),
        ("run_dir", pa.string()),
        ("manifest_path", pa.string()),
        ("dump_marker_path", pa.string()),
        ("run_state_path", pa.string()),
        ("restore_required_path", pa.string()),
        ("report_path", pa.string()),
        ("last_change_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class CatalogBuild:
    """What a build produced: the file, each view's glob, the tables still without data, the day count."""

    path: Path
    views: dict[str, str]
    missing: list[str]
    runs: int
    # Run directories in the registry, and those whose day is not done (failed, running, to restore...).
    day_runs: int = 0
    not_done: int = 0


def table_glob(output_root: Path, file_name: str) -> str:
    """The glob of one report table over every run directory of an output root."""
    return str(output_root.resolve() / "*" / "report" / file_name)


def _sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def build_catalog(output_root: Path, catalog_path: Path | None = None) -> CatalogBuild:
    """(Re)build the catalog of an output root; returns what it holds."""
    root = output_root.resolve()
    target = catalog_path or root / CATALOG_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    views: dict[str, str] = {}
    missing: list[str] = []
    runs = 0
    with duckdb.connect(str(partial)) as conn:
        for view, file_name in TABLE_VIEWS.items():
            pattern = table_glob(root, file_name)
            if not any(root.glob(f"*/report/{file_name}")):
                missing.append(view)
                continue
            # filename=true keeps which run directory each row came from; union_by_name tolerates new columns.
            conn.execute(
                f"CREATE VIEW {view} AS SELECT {RUN_TOKEN_SQL} AS run_token, * EXCLUDE (filename), "
                f"filename AS source_file "
                f"FROM read_parquet({_sql_text(pattern)}, filename = true, union_by_name = true)"
            )
            views[view] = pattern
        for view, file_name in PERIOD_VIEWS.items():
            if not any(root.glob(f"{PERIODS_DIR}/*/{file_name}")):
                missing.append(view)
                continue
            pattern = str(root / PERIODS_DIR / "*" / file_name)
            conn.execute(
                f"CREATE VIEW {view} AS SELECT * EXCLUDE (filename), filename AS source_file "
                f"FROM read_parquet({_sql_text(pattern)}, filename = true, union_by_name = true)"
            )
            views[view] = pattern
        if "runs" in views:
            conn.execute(VERDICTS_SQL)
            views["verdicts"] = "runs"
            row = conn.execute("SELECT count(*) FROM runs").fetchone()
            runs = int(row[0]) if row else 0
        registry = day_runs(root)
        day_runs_table = pa.Table.from_pylist([r.as_row() for r in registry], schema=DAY_RUNS_SCHEMA)
        conn.register("day_runs_rows", day_runs_table)
        conn.execute("CREATE TABLE day_runs AS SELECT * FROM day_runs_rows ORDER BY trading_day, run_token")
        conn.unregister("day_runs_rows")
    os.replace(partial, target)
    return CatalogBuild(
        path=target,
        views=views,
        missing=missing,
        runs=runs,
        day_runs=len(registry),
        not_done=sum(1 for r in registry if not r.done),
    )
