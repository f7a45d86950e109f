"""Arrow schemas of the evidence export: the Parquet files the report engine reads from `outputs/`."""

from __future__ import annotations

import pyarrow as pa

# Postgres `numeric` columns stay exact: decimal with enough scale for prices, quantities and bps.
DECIMAL = pa.decimal128(38, 10)
TS = pa.timestamp("us", tz="UTC")
TEXT = pa.string()

EXPORT_SCHEMAS: dict[str, pa.Schema] = {
    "trade_decisions": pa.schema(
        [
            ("id", TEXT),  # uuid as text
            ("strategy_id", TEXT),
            ("alpaca_account_label", TEXT),
            ("symbol", TEXT),
            ("timeframe", TEXT),
            ("decision_json", TEXT),  # jsonb as JSON text
            ("status", TEXT),
            ("created_at", TS),
            ("executed_at", TS),
        ]
    ),
    "executions": pa.schema(
        [
            ("id", TEXT),
            ("trade_decision_id", TEXT),
            ("alpaca_order_id", TEXT),
            ("client_order_id", TEXT),
            ("symbol", TEXT),
            ("side", TEXT),
            ("order_type", TEXT),
            ("time_in_force", TEXT),
            ("submitted_qty", DECIMAL),
            ("filled_qty", DECIMAL),
            ("avg_fill_price", DECIMAL),
            ("status", TEXT),
            ("created_at", TS),
            ("last_update_at", TS),
            ("order_feed_last_event_ts", TS),
            ("execution_expected_adapter", TEXT),
            ("execution_actual_adapter", TEXT),
            ("execution_fallback_reason", TEXT),
            ("execution_fallback_count", pa.int64()),
        ]
    ),
    "execution_order_events": pa.schema(
        [
            ("id", TEXT),
            ("execution_id", TEXT),
            ("trade_decision_id", TEXT),
            ("source_topic", TEXT),
            ("source_partition", pa.int32()),
            ("source_offset", pa.int64()),
            ("event_ts", TS),
            ("symbol", TEXT),
            ("event_type", TEXT),
            ("status", TEXT),
            ("qty", DECIMAL),
            ("filled_qty", DECIMAL),
            ("avg_fill_price", DECIMAL),
            ("created_at", TS),
        ]
    ),
    "execution_tca_metrics": pa.schema(
        [
            ("execution_id", TEXT),
            ("trade_decision_id", TEXT),
            ("strategy_id", TEXT),
            ("symbol", TEXT),
            ("side", TEXT),
            ("filled_qty", DECIMAL),
            ("avg_fill_price", DECIMAL),
            ("arrival_price", DECIMAL),
            ("shortfall_notional", DECIMAL),
            ("slippage_bps", DECIMAL),
            ("realized_shortfall_bps", DECIMAL),
            ("divergence_bps", DECIMAL),
            ("computed_at", TS),
        ]
    ),
    "llm_decision_reviews": pa.schema(
        [
            ("id", TEXT),
            ("trade_decision_id", TEXT),
            ("model", TEXT),
            ("prompt_version", TEXT),
            ("verdict", TEXT),  # approve|veto|adjust|abstain|escalate|error
            ("confidence", DECIMAL),
            ("tokens_prompt", pa.int64()),
            ("tokens_completion", pa.int64()),
            ("risk_flags", TEXT),  # JSON text
            ("response_json", TEXT),  # JSON text
            ("created_at", TS),
        ]
    ),
    "trade_cursor": pa.schema(
        [
            ("source", TEXT),
            ("account_label", TEXT),
            ("cursor_at", TS),
        ]
    ),
    "simulation_run_progress": pa.schema(
        [
            ("run_id", TEXT),
            ("component", TEXT),  # replay|ta|torghut|artifacts
            ("status", TEXT),
            ("last_source_ts", TS),
            ("last_signal_ts", TS),
            ("cursor_at", TS),
            ("records_dumped", pa.int64()),
            ("records_replayed", pa.int64()),
            ("trade_decisions", pa.int64()),
            ("executions", pa.int64()),
            ("execution_tca_metrics", pa.int64()),
            ("execution_order_events", pa.int64()),
            ("last_error", TEXT),
            ("payload_json", TEXT),
            ("updated_at", TS),
        ]
    ),
    # From ClickHouse: the last microbar close per symbol (the mark for unrealized P&L).
    "last_prices": pa.schema(
        [
            ("symbol", TEXT),
            ("last_price", DECIMAL),
            ("last_event_ts", TS),
        ]
    ),
    # From ClickHouse: row counts and the latest event time of each simulation table.
    "clickhouse_counts": pa.schema(
        [
            ("table", TEXT),
            ("rows", pa.int64()),
            ("max_event_ts", TS),
        ]
    ),
}
