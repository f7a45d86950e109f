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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

from torghut_sim.atomic_file import write_json_atomic
from torghut_sim.stores.clickhouse_provision import PRODUCTION_DATABASE, ClickHouseEndpoint
from torghut_sim.stores.contamination_run import RunIdentity
from torghut_sim.stores.contamination_tables import clickhouse_window_figures, postgres_attributable_counts
from torghut_sim.stores.contamination_topics import kafka_end_offsets, kafka_scan, scan_consumer
from torghut_sim.stores.errors import ContaminationDetectedError, StoreError
from torghut_sim.stores.retry import DEFAULT_RETRY, RetryPolicy
from torghut_sim.tables import CLICKHOUSE_TABLES
from torghut_sim.topics import PRODUCTION_TOPICS

CONTAMINATION_SCHEMA_VERSION = "torghut.simulation-contamination.v1"
RULE = (__doc__ or "").split("The rule", 1)[-1].split("Evidence", 1)[0].strip(" —\n")


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
            consumer = scan_consumer(targets.kafka_config, run)
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


def record_before(path: Path, run: RunIdentity, before: ProductionSnapshot) -> None:
    """Write the pre-apply snapshot to `contamination.json` (status `pending`)."""
    write_json_atomic(
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
    write_json_atomic(
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
