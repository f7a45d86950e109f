"""Loading one run directory into polars frames, scoped to the run as CONTRACTS §9 defines."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from torghut_sim.export_schema import EXPORT_SCHEMAS
from torghut_sim.layout import RunPaths
from torghut_sim.report.arrays import arrow_series
from torghut_sim.report.errors import ReportInputInvalidError, RunDirMissingError
from torghut_sim.report.figures import count_where
from torghut_sim.report.not_executed import refusal_candidates
from torghut_sim.report.settings import (
    ReportSettings,
    build_settings,
    read_json_object,
    read_manifest,
)
from torghut_sim.report.timestamps import parse_utc

_CONTEXT = "$.params.simulation_context"


@dataclass(frozen=True)
class InputFile:
    """One input file: whether it was there, its row count and content hash."""

    name: str
    role: str
    present: bool
    rows: int | None
    sha256: str | None


@dataclass(frozen=True)
class RunInputs:
    """Everything the report reads, with the runtime tables already scoped to this run."""

    settings: ReportSettings
    # The run's decisions without decision_json: its fields are decoded at load (run_ref, signal_ts, …).
    decisions: pl.DataFrame
    # The decisions that may be refusals, with their decision_json (`not_executed.refusal_candidates`).
    refusal_candidates: pl.DataFrame
    executions: pl.DataFrame
    order_events: pl.DataFrame
    tca: pl.DataFrame
    llm_reviews: pl.DataFrame
    progress: pl.DataFrame
    last_prices: pl.DataFrame
    clickhouse_counts: pl.DataFrame
    dump_marker: dict[str, Any] | None
    replay_marker: dict[str, Any] | None
    run_state: dict[str, Any] | None
    manifest_present: bool
    # What each stage reached when the monitor ended (monitor.json); None for runs without it.
    monitor: dict[str, Any] | None
    scoped_by_run_id: bool
    decisions_out_of_scope: int
    executions_unlinked: int
    order_events_unlinked: int
    files: list[InputFile] = field(default_factory=list)
    # The runtime's /metrics scrapes and deltas (runtime-metrics.json); None when the run has none.
    runtime_metrics: dict[str, Any] | None = None

    @property
    def missing_tables(self) -> list[str]:
        """Parquet exports that were not in the run directory."""
        return [f.name for f in self.files if f.role == "export" and not f.present]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def _polars_schema(table: str) -> pl.Schema:
    # Field by field through the Arrow C data interface: converting a whole arrow table imports pandas,
    # and a pyarrow array handed to pl.Series imports pyarrow.compute (a fifth of a second of every build).
    return pl.Schema({f.name: arrow_series(pa.nulls(0, f.type)).dtype for f in EXPORT_SCHEMAS[table]})


def read_export(
    paths: RunPaths, table: str, columns: Sequence[str] | None = None
) -> tuple[pl.DataFrame, InputFile]:
    """One exported table with its contract schema (only `columns` of it, when given, but every contract
    column must be in the file); an absent file is an empty frame."""
    schema = _polars_schema(table)
    if columns is not None:
        schema = pl.Schema({name: schema[name] for name in columns})
    path = paths.output_table(table)
    name = f"outputs/{path.name}"
    if not path.is_file():
        return pl.DataFrame(schema=schema), InputFile(name, "export", False, None, None)
    # Polars' own reader: pyarrow's dataset path would pull in pyarrow.compute, seconds of import.
    try:
        present = pl.read_parquet_schema(path)
        missing = [column for column in _polars_schema(table).names() if column not in present]
        if missing:
            raise ReportInputInvalidError(f"{name} lacks columns {missing}")
        data = pl.read_parquet(path, columns=schema.names())
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ReportInputInvalidError(f"{name} is not readable Parquet: {exc}") from exc
    try:
        # Extra columns are tolerated; the ones the contract names must cast to its exact types.
        data = data.select(schema.names()).cast(schema)
    except pl.exceptions.PolarsError as exc:
        raise ReportInputInvalidError(f"{name} does not match its export schema: {exc}") from exc
    return data, InputFile(name, "export", True, data.height, file_sha256(path))


_AWARE_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"
_NAIVE_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"


def _iso_text(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.replace(r"Z$", "+00:00").str.replace(" ", "T", literal=True)


def parse_iso_utc(expr: pl.Expr) -> pl.Expr:
    """ISO-8601 text (offset, `Z` or naive-as-UTC) to a UTC microsecond timestamp; junk → null."""
    text = _iso_text(expr)
    aware = text.str.to_datetime(_AWARE_FORMAT, strict=False, time_unit="us", time_zone="UTC")
    naive = text.str.to_datetime(_NAIVE_FORMAT, strict=False, time_unit="us").dt.replace_time_zone("UTC")
    return pl.coalesce(aware, naive)


def parse_iso_utc_series(text: pl.Series) -> pl.Series:
    """`parse_iso_utc` of a series: the fixed-width fast path when it reads every text, else polars
    (whose naive-as-UTC parse only runs when some text has no offset)."""
    fast = parse_utc(text)
    if fast is not None:
        return fast
    frame = pl.DataFrame({"text": text}).select(_iso_text(pl.col("text")).alias("text"))
    aware = frame.select(
        pl.col("text").str.to_datetime(_AWARE_FORMAT, strict=False, time_unit="us", time_zone="UTC")
    ).to_series()
    if aware.null_count() == frame["text"].null_count():
        return aware.alias(text.name)
    return frame.select(parse_iso_utc(pl.col("text")).alias(text.name)).to_series()


def _all_but(table: str, *unread: str) -> tuple[str, ...]:
    return tuple(name for name in EXPORT_SCHEMAS[table].names if name not in unread)


# The columns the report reads of the large tables; loading the others cost a third of peak memory (and,
# for the order identifiers, labels and flags no section uses, a tenth of the reading time).
READ_COLUMNS: dict[str, tuple[str, ...]] = {
    "trade_decisions": _all_but("trade_decisions", "alpaca_account_label", "timeframe", "executed_at"),
    "executions": _all_but("executions", "alpaca_order_id", "client_order_id", "order_type", "time_in_force"),
    "execution_order_events": ("execution_id", "trade_decision_id", "event_ts"),
    "execution_tca_metrics": (
        "execution_id",
        "trade_decision_id",
        "shortfall_notional",
        "slippage_bps",
        "realized_shortfall_bps",
        "divergence_bps",
    ),
    "llm_decision_reviews": _all_but("llm_decision_reviews", "id", "risk_flags"),
}
_DECODE_ROWS = 10_000
_DECISION_FIELDS = pl.Struct(
    {
        "event_ts": pl.String,
        "params": pl.Struct(
            {"simulation_context": pl.Struct({"simulation_run_id": pl.String, "signal_event_ts": pl.String})}
        ),
    }
)


def _decision_fields(decisions: pl.DataFrame) -> pl.DataFrame:
    """run_ref, signal_ts and signal_ts_source of each decision, from its decision_json."""
    # In slices, one after the other: a whole day's documents at once cost ~300 MB of decoder scratch
    # (and, parsed at once, ~100 MB of peak memory); 10k documents at a time cost a fraction of that and
    # less CPU, and two slices side by side only competed with the reads. A malformed document sends only
    # its own slice to the tolerant lookups.
    if decisions.height > _DECODE_ROWS:
        return pl.concat(
            [
                _slice_fields(decisions.slice(start, _DECODE_ROWS))
                for start in range(0, decisions.height, _DECODE_ROWS)
            ]
        )
    return _slice_fields(decisions)


def _slice_fields(decisions: pl.DataFrame) -> pl.DataFrame:
    texts = _decision_texts(decisions)
    context, event = pl.col("_context_text"), pl.col("_event_text")
    # The context's signal time wins whenever it is present; event_ts is the documented fallback.
    signal_text = texts.select(pl.coalesce(context, event)).to_series()
    return texts.select(
        "run_ref",
        parse_iso_utc_series(signal_text).alias("signal_ts"),
        pl.when(context.is_not_null())
        .then(pl.lit("simulation_context"))
        .when(event.is_not_null())
        .then(pl.lit("event_ts"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("signal_ts_source"),
    )


def _decision_texts(decisions: pl.DataFrame) -> pl.DataFrame:
    """run_ref, context and event time text of each decision_json."""
    doc = pl.col("decision_json")
    try:
        # One typed parse of every document is several times faster than three path lookups …
        parsed = decisions.select(doc.str.json_decode(_DECISION_FIELDS).alias("d")).unnest("d")
        context = pl.col("params").struct.field("simulation_context")
        return parsed.select(
            context.struct.field("simulation_run_id").alias("run_ref"),
            context.struct.field("signal_event_ts").alias("_context_text"),
            pl.col("event_ts").alias("_event_text"),
        )
    except pl.exceptions.PolarsError:
        # … but one malformed or oddly typed document fails it, so fall back to tolerant lookups.
        return decisions.select(
            doc.str.json_path_match(f"{_CONTEXT}.simulation_run_id").alias("run_ref"),
            doc.str.json_path_match(f"{_CONTEXT}.signal_event_ts").alias("_context_text"),
            doc.str.json_path_match("$.event_ts").alias("_event_text"),
        )


def _with_signal_columns(decisions: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([decisions, _decision_fields(decisions)], how="horizontal")


def _scope_decisions(decisions: pl.DataFrame, settings: ReportSettings) -> tuple[pl.DataFrame, bool]:
    # Contract: when any decision names its run, only this run's decisions count; otherwise all do.
    if decisions.height == 0 or decisions["run_ref"].null_count() == decisions.height:
        return decisions, False
    ref = pl.col("run_ref")
    if count_where(decisions, ref == settings.run_id) == decisions.height:
        return decisions, True  # every decision names this run by its id: no token to derive
    token = ref.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "_").str.strip_chars("_")
    mine = (ref == settings.run_id) | (token == settings.run_token)
    return _rows_where(decisions, mine), True


def _rows_where(frame: pl.DataFrame, condition: pl.Expr) -> pl.DataFrame:
    """The rows where `condition` holds (null = no); the frame itself, not a copy, when every row does."""
    keep = frame.select(condition.fill_null(value=False).alias("keep")).to_series()
    # A run's files usually hold only that run: a full copy of each table would be peak memory for nothing.
    return frame if keep.all() else frame.filter(keep)


def _member(column: str, ids: pl.Series) -> pl.Expr:
    """Whether a row's id is one of `ids` (a null id is not)."""
    return pl.col(column).is_in(ids.implode()).fill_null(value=False)


@dataclass(frozen=True)
class RunIds:
    """The ids of the file's executions and decisions, and of the run's (None: the same as the file's)."""

    all_executions: pl.Series
    executions: pl.Series | None
    all_decisions: pl.Series
    decisions: pl.Series | None

    def linked(self, frame: pl.DataFrame) -> tuple[pl.Series, int]:
        """Which rows of `frame` belong to the run, and how many rows name no known execution or decision.

        A row belongs by its execution; by its decision only when its execution is not in the file at all
        (a row of another execution of the file belongs to that execution's run). Each test is a pass
        over every row, so the decision tests run only when some execution is unknown."""
        marks = frame.select(
            _member("execution_id", self.all_executions).alias("known"),
            *([] if self.executions is None else [_member("execution_id", self.executions).alias("mine")]),
        )
        known = marks["known"]
        by_execution = known if self.executions is None else marks["mine"]
        if known.all():
            return by_execution, 0
        decisions = frame.select(
            _member("trade_decision_id", self.all_decisions).alias("known"),
            *([] if self.decisions is None else [_member("trade_decision_id", self.decisions).alias("mine")]),
        )
        known_decision = decisions["known"]
        by_decision = known_decision if self.decisions is None else decisions["mine"]
        return by_execution | (~known & by_decision), int((~known & ~known_decision).sum())


def load_run(run_dir: Path) -> RunInputs:
    """Read and scope every input of a run directory; absent optional inputs are recorded, not fatal."""
    if not run_dir.is_dir():
        raise RunDirMissingError(f"run directory not found: {run_dir}")
    paths = RunPaths(run_dir)
    manifest = read_manifest(paths.manifest)
    run_state = read_json_object(paths.run_state)
    dump_marker = read_json_object(paths.dump_marker)
    replay_marker = read_json_object(paths.replay_marker)
    monitor = read_json_object(paths.monitor)
    settings = build_settings(run_dir, manifest, run_state)

    files: list[InputFile] = []
    for path, role in (
        (paths.manifest, "manifest"),
        (paths.dump_marker, "dump_marker"),
        (paths.replay_marker, "replay_marker"),
        (paths.run_state, "run_state"),
        (paths.monitor, "monitor"),
        (paths.runtime_metrics, "runtime_metrics"),
    ):
        present = path.is_file()
        files.append(InputFile(path.name, role, present, None, file_sha256(path) if present else None))
    frames: dict[str, pl.DataFrame] = {}
    # The decisions' documents are decoded on a side thread while the other tables are read.
    infos: dict[str, InputFile] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-decisions") as side:
        for table in ("trade_decisions", *(t for t in EXPORT_SCHEMAS if t != "trade_decisions")):
            frames[table], infos[table] = read_export(paths, table, READ_COLUMNS.get(table))
            if table == "trade_decisions":
                decoded = side.submit(_with_signal_columns, frames[table])
        all_decisions = decoded.result()
    files.extend(infos[table] for table in EXPORT_SCHEMAS)
    decisions, scoped = _scope_decisions(all_decisions, settings)
    all_decision_ids = all_decisions["id"].drop_nulls().unique()
    decision_ids = all_decision_ids if decisions is all_decisions else decisions["id"].drop_nulls().unique()

    all_executions = frames["executions"]
    linked_decision = pl.col("trade_decision_id").is_in(all_decision_ids.implode()).fill_null(value=False)
    if decisions is all_decisions:
        executions = _rows_where(all_executions, linked_decision)
    else:
        executions = _rows_where(all_executions, pl.col("trade_decision_id").is_in(decision_ids.implode()))
    execution_ids = executions["id"].drop_nulls().unique()
    all_execution_ids = all_executions["id"].drop_nulls().unique()
    executions_unlinked = all_executions.height - (
        executions.height if decisions is all_decisions else count_where(all_executions, linked_decision)
    )

    # The run's ids are the file's when the scope kept a whole table (None: no second test needed).
    ids = RunIds(
        all_execution_ids,
        None if executions is all_executions else execution_ids,
        all_decision_ids,
        None if decisions is all_decisions else decision_ids,
    )
    events = frames["execution_order_events"]
    mine, order_events_unlinked = ids.linked(events)
    order_events = events if mine.all() else events.filter(mine)
    tca = frames["execution_tca_metrics"]
    tca_mine = ids.linked(tca)[0]
    tca = tca if tca_mine.all() else tca.filter(tca_mine)
    llm_reviews = _rows_where(frames["llm_decision_reviews"], _member("trade_decision_id", decision_ids))

    return RunInputs(
        settings=settings,
        # Only the few possible refusals keep their documents: the whole column held ~30 MB of peak memory.
        decisions=decisions.drop("decision_json"),
        refusal_candidates=refusal_candidates(decisions),
        executions=executions,
        order_events=order_events,
        tca=tca,
        llm_reviews=llm_reviews,
        progress=frames["simulation_run_progress"],
        last_prices=frames["last_prices"],
        clickhouse_counts=frames["clickhouse_counts"],
        dump_marker=dump_marker,
        replay_marker=replay_marker,
        monitor=monitor,
        run_state=run_state,
        manifest_present=manifest is not None,
        scoped_by_run_id=scoped,
        decisions_out_of_scope=all_decisions.height - decisions.height,
        executions_unlinked=executions_unlinked,
        order_events_unlinked=order_events_unlinked,
        files=files,
        runtime_metrics=read_json_object(paths.runtime_metrics),
    )
