"""The tables of a simulation's stores: one list each, used to provision, export, watch and monitor."""

from __future__ import annotations

# Every table of a simulation Postgres database (the runtime's schema). Provisioning checks they exist and
# truncates them, the export writes one Parquet file each, the contamination watch counts this run's rows
# in production's copies of them.
POSTGRES_TABLES: tuple[str, ...] = (
    "trade_decisions",
    "executions",
    "execution_order_events",
    "execution_tca_metrics",
    "llm_decision_reviews",
    "trade_cursor",
    "simulation_run_progress",
)
# The Postgres tables whose row counts show the runtime still working (the cursor and the progress rows
# move on their own schedule, so they are not activity).
ACTIVITY_TABLES: tuple[str, ...] = (
    "trade_decisions",
    "executions",
    "execution_tca_metrics",
    "execution_order_events",
    "llm_decision_reviews",
)
# The TA's tables in a simulation ClickHouse database.
CLICKHOUSE_TABLES: tuple[str, ...] = ("ta_microbars", "ta_signals")
