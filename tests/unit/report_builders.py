"""Builders of synthetic run directories for the report tests: exact export schemas, hand-sized data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from torghut_sim.export_schema import EXPORT_SCHEMAS
from torghut_sim.layout import RunPaths
from torghut_sim.replay.marker import PaceRecord, ReplayMarker

RUN_ID = "sim-20260306-01"
RUN_TOKEN = "sim_20260306_01"
OPEN = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
CLOSE = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A time `seconds` after the session open."""
    return OPEN + timedelta(seconds=seconds)


def iso(ts: datetime) -> str:
    """ISO text with a Z suffix."""
    return ts.isoformat().replace("+00:00", "Z")


def dec(value: str | int | None) -> Decimal | None:
    """A Decimal from text; None passes through."""
    return None if value is None else Decimal(str(value))


def write_table(path: Path, table: str, rows: list[dict[str, Any]]) -> None:
    """Write rows as Parquet with the table's exact export schema (absent keys are null)."""
    schema = EXPORT_SCHEMAS[table]
    full = [{name: row.get(name) for name in schema.names} for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(full, schema=schema), path)


def default_manifest() -> dict[str, Any]:
    """A full-day manifest with the contract's defaults."""
    return {
        "dataset_id": "torghut-trades-20260306",
        "window": {
            "profile": "us_equities_regular",
            "trading_day": "2026-03-06",
            "timezone": "America/New_York",
            "start": iso(OPEN),
            "end": iso(CLOSE),
            "min_coverage_minutes": 390,
            "strict_coverage_ratio": 0.95,
        },
        "monitor": {
            "min_trade_decisions": 1,
            "min_executions": 1,
            "min_execution_tca_metrics": 0,
            "min_execution_order_events": 0,
        },
        "reporting": {"commission_bps": "0", "per_trade_fee": "0"},
    }


def dump_marker(ratio: float = 1.0, status: str = "ok") -> dict[str, Any]:
    """A dump marker with the given session coverage."""
    covered = round(390 * ratio)
    return {
        "schema_version": "torghut.source-dump-marker.v1",
        "dump_file": "source-dump.jsonl.zst",
        "sha256": "a" * 64,
        "payload_sha256": "b" * 64,
        "records": 1000,
        "records_by_topic": {"torghut.trades.v1": 600, "torghut.quotes.v1": 400},
        "records_by_partition": {"torghut.trades.v1:0": 600, "torghut.quotes.v1:0": 400},
        "offset_ranges": {"torghut.trades.v1:0": {"first": 0, "last": 599}},
        "offset_gaps": {"torghut.trades.v1:0": 0},
        "out_of_window_skipped": 0,
        "window": {"start": iso(OPEN), "end": iso(CLOSE)},
        "session": {"start": iso(OPEN), "end": iso(CLOSE)},
        "coverage": {"session_minutes": 390, "covered_minutes": covered, "ratio": ratio},
        "status": status,
        "expected_records": 1000,
        "created_at": "2026-03-07T00:00:00Z",
    }


@dataclass
class RunBuilder:
    """Accumulates rows of every export table and writes a run directory."""

    root: Path
    run_id: str = RUN_ID
    manifest: dict[str, Any] = field(default_factory=default_manifest)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in EXPORT_SCHEMAS})
    _seq: int = 0

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq:04d}"

    def decision(
        self,
        symbol: str = "NVDA",
        *,
        strategy: str = "intraday_tsmom_v1",
        status: str = "executed",
        run_id: str | None = RUN_ID,
        signal_ts: datetime | None = None,
        event_ts: datetime | None = None,
        created_at: datetime | None = None,
        decision_id: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> str:
        """Add a trade decision (`fields` are extra decision_json keys); returns its id."""
        decision_id = decision_id or self._next("d")
        context: dict[str, Any] = {}
        if run_id is not None:
            context["simulation_run_id"] = run_id
        if signal_ts is not None:
            context["signal_event_ts"] = iso(signal_ts)
        doc: dict[str, Any] = {"symbol": symbol, "params": {"simulation_context": context}}
        if event_ts is not None:
            doc["event_ts"] = iso(event_ts)
        doc.update(fields or {})
        self.tables["trade_decisions"].append(
            {
                "id": decision_id,
                "strategy_id": strategy,
                "alpaca_account_label": "paper",
                "symbol": symbol,
                "timeframe": "1Min",
                "decision_json": json.dumps(doc, sort_keys=True),
                "status": status,
                "created_at": created_at or at(self._seq),
                "executed_at": None,
            }
        )
        return decision_id

    def execution(
        self,
        decision_id: str | None,
        side: str,
        qty: str | None,
        price: str | None,
        *,
        symbol: str = "NVDA",
        status: str = "filled",
        submitted_qty: str | None = None,
        created_at: datetime | None = None,
        fill_ts: datetime | None = None,
        expected_adapter: str | None = "simulation",
        actual_adapter: str | None = "simulation",
        fallback_reason: str | None = None,
        fallback_count: int | None = 0,
        execution_id: str | None = None,
    ) -> str:
        """Add an execution filled `qty` at `price` (fill order follows `fill_ts`, default add order)."""
        execution_id = execution_id or self._next("e")
        created = created_at or at(self._seq)
        self.tables["executions"].append(
            {
                "id": execution_id,
                "trade_decision_id": decision_id,
                "alpaca_order_id": f"o-{execution_id}",
                "client_order_id": f"c-{execution_id}",
                "symbol": symbol,
                "side": side,
                "order_type": "market",
                "time_in_force": "day",
                "submitted_qty": dec(submitted_qty if submitted_qty is not None else qty),
                "filled_qty": dec(qty),
                "avg_fill_price": dec(price),
                "status": status,
                "created_at": created,
                "last_update_at": fill_ts or created,
                "order_feed_last_event_ts": fill_ts or created,
                "execution_expected_adapter": expected_adapter,
                "execution_actual_adapter": actual_adapter,
                "execution_fallback_reason": fallback_reason,
                "execution_fallback_count": fallback_count,
            }
        )
        return execution_id

    def trade(self, side: str, qty: str, price: str, symbol: str = "NVDA", **kwargs: Any) -> str:
        """A decision and its filled execution in one call; returns the execution id."""
        decision_id = self.decision(symbol)
        return self.execution(decision_id, side, qty, price, symbol=symbol, **kwargs)

    def order_event(
        self,
        execution_id: str | None,
        decision_id: str | None,
        event_ts: datetime,
        event_type: str = "fill",
    ) -> None:
        """Add an order lifecycle event."""
        self.tables["execution_order_events"].append(
            {
                "id": self._next("ev"),
                "execution_id": execution_id,
                "trade_decision_id": decision_id,
                "source_topic": "torghut.sim.trade-updates.v1",
                "source_partition": 0,
                "source_offset": self._seq,
                "event_ts": event_ts,
                "symbol": "NVDA",
                "event_type": event_type,
                "status": "filled",
                "created_at": event_ts,
            }
        )

    def tca(
        self,
        execution_id: str,
        decision_id: str,
        shortfall: str = "0",
        slippage: str = "0",
        divergence: str = "0",
    ) -> None:
        """Add a TCA row."""
        self.tables["execution_tca_metrics"].append(
            {
                "execution_id": execution_id,
                "trade_decision_id": decision_id,
                "strategy_id": "intraday_tsmom_v1",
                "symbol": "NVDA",
                "side": "buy",
                "shortfall_notional": dec(shortfall),
                "slippage_bps": dec(slippage),
                "realized_shortfall_bps": dec(slippage),
                "divergence_bps": dec(divergence),
                "computed_at": OPEN,
            }
        )

    def review(
        self,
        decision_id: str,
        verdict: str,
        *,
        confidence: str | None = "0.8",
        model: str = "gpt-x",
        prompt_version: str = "v1",
        tokens: tuple[int, int] = (100, 20),
        response: dict[str, Any] | None = None,
    ) -> None:
        """Add an LLM review."""
        self.tables["llm_decision_reviews"].append(
            {
                "id": self._next("r"),
                "trade_decision_id": decision_id,
                "model": model,
                "prompt_version": prompt_version,
                "verdict": verdict,
                "confidence": dec(confidence),
                "tokens_prompt": tokens[0],
                "tokens_completion": tokens[1],
                "risk_flags": "[]",
                "response_json": json.dumps(response or {}, sort_keys=True),
                "created_at": OPEN,
            }
        )

    def last_price(self, symbol: str, price: str) -> None:
        """Add a last microbar close."""
        self.tables["last_prices"].append(
            {"symbol": symbol, "last_price": dec(price), "last_event_ts": CLOSE}
        )

    def progress(
        self, component: str, last_error: str | None = None, payload: dict[str, Any] | None = None
    ) -> None:
        """Add a simulation_run_progress row."""
        self.tables["simulation_run_progress"].append(
            {
                "run_id": self.run_id,
                "component": component,
                "status": "running",
                "last_error": last_error,
                "payload_json": json.dumps(payload or {}),
                "updated_at": CLOSE,
            }
        )

    def write(
        self,
        *,
        coverage: float | None = 1.0,
        replay: bool = True,
        run_state: bool = True,
        skip_tables: tuple[str, ...] = (),
    ) -> Path:
        """Write the run directory; `coverage=None` leaves the dump marker out."""
        paths = RunPaths(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        paths.manifest.write_text(yaml.safe_dump(self.manifest, sort_keys=True))
        marker = dump_marker(coverage) if coverage is not None else None
        if marker is not None:
            paths.dump_marker.write_text(json.dumps(marker, sort_keys=True))
        if replay and marker is not None:
            # Written through the replayer's own model, so the report reads exactly what a replay writes.
            ReplayMarker(
                dump_file=marker["dump_file"],
                dump_sha256=marker["payload_sha256"],
                run_token=RUN_TOKEN,
                records=marker["records"],
                records_by_topic=marker["records_by_topic"],
                topic_map={},
                pace=PaceRecord(mode="max_throughput", acceleration=1, max_sleep_seconds=0),
                duration_seconds=12.5,
                started_at=datetime(2026, 3, 7, 0, 9, 47, 500000, tzinfo=UTC),
                completed_at=datetime(2026, 3, 7, 0, 10, tzinfo=UTC),
            ).write(paths.replay_marker)
        if run_state:
            paths.run_state.write_text(
                json.dumps(
                    {
                        "run_id": self.run_id,
                        "run_token": RUN_TOKEN,
                        "dataset_id": "torghut-trades-20260306",
                        "transitions": [
                            {"phase": "export", "status": "succeeded", "at": iso(CLOSE), "details": {}}
                        ],
                    }
                )
            )
        for table, rows in self.tables.items():
            if table not in skip_tables:
                write_table(paths.output_table(table), table, rows)
        return self.root
