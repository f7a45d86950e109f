"""The reference Torghut's Postgres writes: its tables' columns and the one transaction per fetch window."""

from __future__ import annotations

from typing import Any

import psycopg

from torghut_sim.devstack.refruntime.settings import TorghutSettings
from torghut_sim.devstack.refruntime.strategy import MacdRsiStrategy
from torghut_sim.devstack.refruntime.trade_rows import WindowRows
from torghut_sim.devstack.refruntime.worker import upsert_progress, utc_ms

DECISION_COLUMNS = (
    "id",
    "strategy_id",
    "alpaca_account_label",
    "symbol",
    "timeframe",
    "decision_json",
    "status",
    "created_at",
    "executed_at",
)
REVIEW_COLUMNS = (
    "id",
    "trade_decision_id",
    "model",
    "prompt_version",
    "verdict",
    "confidence",
    "tokens_prompt",
    "tokens_completion",
    "risk_flags",
    "response_json",
    "created_at",
)
EXECUTION_COLUMNS = (
    "id",
    "trade_decision_id",
    "alpaca_order_id",
    "client_order_id",
    "symbol",
    "side",
    "order_type",
    "time_in_force",
    "submitted_qty",
    "filled_qty",
    "avg_fill_price",
    "status",
    "created_at",
    "last_update_at",
    "order_feed_last_event_ts",
    "execution_expected_adapter",
    "execution_actual_adapter",
    "execution_fallback_reason",
    "execution_fallback_count",
)
EVENT_COLUMNS = (
    "id",
    "execution_id",
    "trade_decision_id",
    "source_topic",
    "source_partition",
    "source_offset",
    "event_ts",
    "symbol",
    "event_type",
    "status",
    "qty",
    "filled_qty",
    "avg_fill_price",
    "created_at",
)
TCA_COLUMNS = (
    "execution_id",
    "trade_decision_id",
    "strategy_id",
    "symbol",
    "side",
    "filled_qty",
    "avg_fill_price",
    "arrival_price",
    "shortfall_notional",
    "slippage_bps",
    "realized_shortfall_bps",
    "divergence_bps",
    "computed_at",
)
PROGRESS_COUNTS = ("trade_decisions", "executions", "execution_tca_metrics", "execution_order_events")


def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    """An idempotent INSERT: rows have deterministic ids, so a retried window adds nothing twice."""
    placeholders = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"


def commit_window(
    conn: psycopg.Connection[Any],
    settings: TorghutSettings,
    upper_ms: int,
    rows: WindowRows,
    completed: bool,
    last_signal_ms: int | None,
    signals_read: int,
    strategy: MacdRsiStrategy,
) -> None:
    """Write the window's rows, move the cursor and the progress row, in one transaction."""
    s = settings
    with conn.transaction():
        cur = conn.cursor()
        if rows.decisions:
            cur.executemany(insert_sql("trade_decisions", DECISION_COLUMNS), rows.decisions)
            cur.executemany(insert_sql("llm_decision_reviews", REVIEW_COLUMNS), rows.reviews)
        if rows.executions:
            cur.executemany(insert_sql("executions", EXECUTION_COLUMNS), rows.executions)
            cur.executemany(
                insert_sql("execution_order_events", EVENT_COLUMNS),
                [
                    (
                        i["id"],
                        i["execution_id"],
                        i["decision_id"],
                        s.order_feed_topic,
                        i["partition"],
                        i["offset"],
                        utc_ms(i["event"].at_ms),
                        i["symbol"],
                        i["event"].event_type,
                        i["event"].status,
                        i["event"].qty,
                        i["event"].filled_qty,
                        i["event"].avg_fill_price,
                        utc_ms(i["event"].at_ms),
                    )
                    for i in rows.events
                ],
            )
        if rows.tca:
            cur.executemany(insert_sql("execution_tca_metrics", TCA_COLUMNS), rows.tca)
        cursor_at = utc_ms(upper_ms)
        cur.execute(
            "UPDATE trade_cursor SET cursor_at = %s, updated_at = now() "
            "WHERE source = %s AND account_label = %s",
            (cursor_at, s.signal_source, s.account_label),
        )
        if cur.rowcount == 0:
            cur.execute(
                "INSERT INTO trade_cursor (source, account_label, cursor_at) VALUES (%s, %s, %s)",
                (s.signal_source, s.account_label, cursor_at),
            )
        counts = {
            table: int(cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            for table in (*PROGRESS_COUNTS, "llm_decision_reviews")
        }
        upsert_progress(
            conn,
            s.run_id,
            "torghut",
            "completed" if completed else "running",
            last_signal_ts=utc_ms(last_signal_ms) if last_signal_ms else None,
            cursor_at=cursor_at,
            **{k: counts[k] for k in PROGRESS_COUNTS},
            payload_json={
                "llm_decision_reviews": counts["llm_decision_reviews"],
                "signals_read": signals_read,
                "positions": dict(sorted(strategy.positions.items())),
                "strategy_id": strategy.config.strategy_id,
            },
        )
