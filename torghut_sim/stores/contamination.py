"""Production contamination checks: snapshot the production side before apply and after teardown, and
fail the run (`contamination_detected`) on any difference attributable to it.

The rule — only what the run could have caused is compared, so live production traffic during the run
never raises a false alarm:

- ClickHouse (production database, `torghut` unless injected): per table, only rows whose `event_ts`
  falls in the simulated window [start, end]. Contaminated when the row count, the number of distinct
  (symbol, event_ts, seq) keys or the latest `ingest_ts` in the window grows. Decreases are ignored:
  ReplacingMergeTree merges and TTL only ever remove rows, and merges never change the key count or
  the latest version. Live TA writes rows for "now", outside a past trading day's window.
- Postgres (production runtime database): only rows carrying the run's markers — decisions whose
  `simulation_context.simulation_run_id` is the run id or whose `decision_json` mentions the run id or
  run token; executions, TCA and LLM reviews of those decisions; order events from a topic or with a
  client order id carrying the run token; `simulation_run_progress` rows of the run id — plus
  `trade_cursor` rows whose `cursor_at` lies in the simulated window (a runtime pointed at production
  would move the live cursor back into the replayed day). Contaminated when any of these counts grows.
- Kafka (production topics): end offsets are recorded as evidence only (live traffic moves them).
  After teardown the records appended since the first snapshot are scanned (up to a cap per partition)
  for the run id or run token in key, value or headers; any hit is contamination.

The simulated window is a completed past trading day, which is what makes the window rules safe. (Rows
for a window already past the production TTL are dropped by ClickHouse at insert: they cannot show here,
and cannot harm production either.)
Evidence (both snapshots, the findings and this rule) goes to `contamination.json`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from clickhouse_connect.driver.exceptions import ClickHouseError
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from psycopg import sql

from torghut_sim.kafka.connection import quiet
from torghut_sim.secrets import redact_dsn
from torghut_sim.stores.clickhouse_ddl import quote_identifier
from torghut_sim.stores.clickhouse_provision import (
    PRODUCTION_DATABASE,
    ClickHouseEndpoint,
    existing_tables,
)
from torghut_sim.stores.errors import ContaminationDetectedError, StoreError
from torghut_sim.stores.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from torghut_sim.tables import CLICKHOUSE_TABLES, POSTGRES_TABLES
from torghut_sim.topics import PRODUCTION_TOPICS

CONTAMINATION_SCHEMA_VERSION = "torghut.simulation-contamination.v1"
RULE = (__doc__ or "").split("The rule", 1)[-1].split("Evidence", 1)[0].strip(" —\n")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RUN_ID_PATH = "decision_json -> 'params' -> 'simulation_context' ->> 'simulation_run_id'"


@dataclass(frozen=True)
class RunIdentity:
    """What marks the run's data: its id, its token and the simulated window."""

    run_id: str
    run_token: str
    window_start: datetime
    window_end: datetime

    @property
    def markers(self) -> tuple[str, ...]:
        """The strings that only this run writes."""
        return tuple(dict.fromkeys(m for m in (self.run_id, self.run_token) if m))

    def to_json(self) -> dict[str, str]:
        """The identity as evidence."""
        return {
            "run_id": self.run_id,
            "run_token": self.run_token,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
        }


@dataclass(frozen=True)
class ProductionTargets:
    """The production side to watch; any part left as None is not checked (and says so in evidence)."""

    clickhouse: ClickHouseEndpoint | None = None
    clickhouse_database: str = PRODUCTION_DATABASE
    clickhouse_tables: tuple[str, ...] = CLICKHOUSE_TABLES
    postgres_dsn: str | None = field(default=None, repr=False)
    kafka_config: Mapping[str, str] | None = field(default=None, repr=False)
    kafka_topics: tuple[str, ...] = tuple(sorted(PRODUCTION_TOPICS))
    kafka_scan_limit_per_partition: int = 10_000
    kafka_scan_timeout_seconds: float = 60.0


@dataclass
class ProductionSnapshot:
    """Figures of the production side at one moment; JSON-serialisable."""

    taken_at: str
    clickhouse: dict[str, dict[str, int | None] | None] | None = None
    postgres: dict[str, int | None] | None = None
    kafka_end_offsets: dict[str, dict[str, int]] | None = None
    kafka_scan: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The snapshot as written to `contamination.json`."""
        return {
            "taken_at": self.taken_at,
            "clickhouse": self.clickhouse,
            "postgres": self.postgres,
            "kafka_end_offsets": self.kafka_end_offsets,
            "kafka_scan": self.kafka_scan,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProductionSnapshot:
        """Read a snapshot written by `to_json`."""
        return cls(
            taken_at=str(data["taken_at"]),
            clickhouse=data.get("clickhouse"),
            postgres=data.get("postgres"),
            kafka_end_offsets=data.get("kafka_end_offsets"),
            kafka_scan=data.get("kafka_scan"),
        )


@dataclass(frozen=True)
class Finding:
    """One difference attributable to the run."""

    store: str
    target: str
    detail: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        """The finding as evidence."""
        return {
            "store": self.store,
            "target": self.target,
            "detail": self.detail,
            "before": self.before,
            "after": self.after,
        }


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


# --- Kafka --------------------------------------------------------------------------------------------


def _consumer(config: Mapping[str, str], run: RunIdentity) -> Any:
    settings = {
        **config,
        # A throwaway group that never commits: the scan leaves no trace on production groups.
        "group.id": f"torghut-sim-contamination-{run.run_token}-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
    }
    return Consumer(quiet(settings))


def kafka_end_offsets(
    consumer: Any, topics: Sequence[str], timeout: float = 10.0
) -> dict[str, dict[str, int]]:
    """High watermarks per partition of each existing topic."""
    metadata = consumer.list_topics(timeout=timeout)
    out: dict[str, dict[str, int]] = {}
    for topic in topics:
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            continue
        out[topic] = {}
        for partition in sorted(info.partitions):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            out[topic][str(partition)] = int(high)
    return out


def _record_hits(message: Any, markers: Sequence[bytes]) -> list[str]:
    where: list[str] = []
    for name, blob in (("key", message.key()), ("value", message.value())):
        if blob and any(m in blob for m in markers):
            where.append(name)
    for header, value in message.headers() or []:
        text = value if isinstance(value, bytes) else str(value or "").encode()
        if any(m in text or m in header.encode() for m in markers):
            where.append(f"header:{header}")
    return where


def _scan_ranges(
    since: Mapping[str, Mapping[str, int]], until: Mapping[str, Mapping[str, int]], limit_per_partition: int
) -> tuple[dict[tuple[str, int], tuple[int, int]], list[str]]:
    """(start, stop) per partition between two offset snapshots, capped; and the partitions capped."""
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    truncated: list[str] = []
    for topic, partitions in until.items():
        for partition, high in partitions.items():
            start = int(since.get(topic, {}).get(partition, 0))
            if high <= start:
                continue
            end = min(high, start + limit_per_partition)
            if end < high:
                truncated.append(f"{topic}[{partition}]")
            ranges[(topic, int(partition))] = (start, end)
    return ranges, truncated


def _scan_message(message: Any, pending: dict[tuple[str, int], int]) -> bool:
    """Whether a polled message is a record to scan; ends (EOF, stop offset) drop its partition."""
    key = (message.topic(), message.partition())
    error = message.error()
    if error is not None:
        if error.code() == KafkaError._PARTITION_EOF:
            pending.pop(key, None)
            return False
        raise StoreError(f"scanning {key[0]}[{key[1]}]: {error}")
    if key not in pending:
        return False
    if message.offset() >= pending[key]:
        pending.pop(key)
        return False
    return True


def kafka_scan(
    consumer: Any,
    since: Mapping[str, Mapping[str, int]],
    until: Mapping[str, Mapping[str, int]],
    run: RunIdentity,
    limit_per_partition: int,
    timeout_seconds: float,
) -> dict[str, Any]:
    """Scan records appended between two offset snapshots for the run's markers."""
    markers = [m.encode() for m in run.markers]
    ranges, truncated = _scan_ranges(since, until, limit_per_partition)
    hits: list[dict[str, Any]] = []
    scanned = 0
    if ranges:
        consumer.assign(
            [TopicPartition(topic, partition, start) for (topic, partition), (start, _) in ranges.items()]
        )
        deadline = datetime.now(UTC) + timedelta(seconds=timeout_seconds)
        pending = {key: stop for key, (_, stop) in ranges.items()}
        while pending and datetime.now(UTC) < deadline:
            message = consumer.poll(0.5)
            if message is None or not _scan_message(message, pending):
                continue
            key = (message.topic(), message.partition())
            scanned += 1
            where = _record_hits(message, markers)
            if where:
                hits.append(
                    {"topic": key[0], "partition": key[1], "offset": message.offset(), "where": where}
                )
            if message.offset() + 1 >= pending[key]:
                pending.pop(key)
        if pending:
            truncated.extend(f"{t}[{p}] (timeout)" for t, p in sorted(pending))
    return {"scanned": scanned, "hits": hits, "truncated": sorted(truncated)}


# --- snapshots and comparison -------------------------------------------------------------------------


def snapshot_production(
    targets: ProductionTargets,
    run: RunIdentity,
    previous: ProductionSnapshot | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> ProductionSnapshot:
    """Snapshot the production side; with `previous`, also scan topics for records written since."""
    snapshot = ProductionSnapshot(taken_at=datetime.now(UTC).isoformat())
    if targets.clickhouse is not None:
        snapshot.clickhouse = clickhouse_window_figures(
            targets.clickhouse, targets.clickhouse_database, targets.clickhouse_tables, run
        )
    if targets.postgres_dsn is not None:
        snapshot.postgres = postgres_attributable_counts(targets.postgres_dsn, run, retry)
    if targets.kafka_config is not None:
        try:
            consumer = _consumer(targets.kafka_config, run)
            try:
                snapshot.kafka_end_offsets = kafka_end_offsets(consumer, targets.kafka_topics)
                if previous is not None and previous.kafka_end_offsets is not None:
                    snapshot.kafka_scan = kafka_scan(
                        consumer,
                        previous.kafka_end_offsets,
                        snapshot.kafka_end_offsets,
                        run,
                        targets.kafka_scan_limit_per_partition,
                        targets.kafka_scan_timeout_seconds,
                    )
            finally:
                consumer.close()
        except KafkaException as exc:
            raise StoreError(f"snapshot of production topics failed: {exc}") from exc
    return snapshot


def _grew(before: int | None, after: int | None) -> bool:
    return after is not None and after > (before or 0)


def compare_snapshots(before: ProductionSnapshot, after: ProductionSnapshot) -> list[Finding]:
    """Every difference attributable to the run (see the module docstring for the rule)."""
    findings: list[Finding] = []
    for table, figures in (after.clickhouse or {}).items():
        old = (before.clickhouse or {}).get(table) or {}
        for metric in ("rows", "keys", "max_ingest_ts_us"):
            if figures is not None and _grew(old.get(metric), figures.get(metric)):
                findings.append(
                    Finding(
                        "clickhouse",
                        table,
                        f"{metric} in the simulated window grew",
                        old.get(metric),
                        figures.get(metric),
                    )
                )
    for table, count in (after.postgres or {}).items():
        old_count = (before.postgres or {}).get(table)
        if _grew(old_count, count):
            findings.append(Finding("postgres", table, "rows attributable to the run grew", old_count, count))
    for hit in (after.kafka_scan or {}).get("hits", []):
        findings.append(
            Finding(
                "kafka",
                f"{hit['topic']}[{hit['partition']}]",
                f"record at offset {hit['offset']} carries the run's markers in {', '.join(hit['where'])}",
                None,
                hit["offset"],
            )
        )
    return findings


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def record_before(path: Path, run: RunIdentity, before: ProductionSnapshot) -> None:
    """Write the pre-apply snapshot to `contamination.json` (status `pending`)."""
    _write_json(
        path,
        {
            "schema_version": CONTAMINATION_SCHEMA_VERSION,
            "status": "pending",
            "rule": RULE,
            "run": run.to_json(),
            "before": before.to_json(),
        },
    )


def read_before(path: Path) -> ProductionSnapshot:
    """The pre-apply snapshot recorded by `record_before`."""
    try:
        data = json.loads(path.read_text())
        return ProductionSnapshot.from_json(data["before"])
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(f"no pre-apply production snapshot in {path}: {exc}") from exc


def check_contamination(
    path: Path, run: RunIdentity, before: ProductionSnapshot, after: ProductionSnapshot
) -> list[Finding]:
    """Compare, write `contamination.json`, and raise `contamination_detected` on any finding."""
    findings = compare_snapshots(before, after)
    status = "contaminated" if findings else "clean"
    _write_json(
        path,
        {
            "schema_version": CONTAMINATION_SCHEMA_VERSION,
            "status": status,
            "rule": RULE,
            "run": run.to_json(),
            "before": before.to_json(),
            "after": after.to_json(),
            "findings": [f.to_json() for f in findings],
        },
    )
    if findings:
        summary = "; ".join(f"{f.store}:{f.target} {f.detail}" for f in findings[:5])
        raise ContaminationDetectedError(
            f"{len(findings)} production change(s) attributable to the run: {summary} (evidence: {path})"
        )
    return findings
