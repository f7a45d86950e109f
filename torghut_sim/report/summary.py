"""The one-row run summary written as Parquet, so a DuckDB glob over all report dirs is a catalog of days."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from torghut_sim.report.arrays import decimal_array, frame_from_arrays
from torghut_sim.report.figures import MONEY_SCALE
from torghut_sim.report.model import SimulationReport


def _money(value: Decimal) -> pl.Series:
    # Costs can be finer than 10⁻²⁰ only with exotic rates; the catalog rounds them to money scale.
    return decimal_array([int(value.scaleb(MONEY_SCALE).to_integral_value())], MONEY_SCALE)


def summary_row(report: SimulationReport) -> pl.DataFrame:
    """One row of the run's headline figures (no generation time, so it is stable across rebuilds)."""
    meta, pnl, ex = report.run_metadata, report.pnl, report.execution_quality
    text = {
        "run_id": meta.run_id,
        "trading_day": meta.trading_day,
        "dataset_id": meta.dataset_id,
        "verdict": report.verdict.status,
        "verdict_reasons": ",".join(r.code for r in report.verdict.reasons),
    }
    counts = {
        "decisions": report.funnel.decisions,
        "executions": report.funnel.executions,
        "order_events": report.funnel.order_events,
        "fills": pnl.fills,
        "llm_reviews": report.llm.reviews,
    }
    ratios = {
        "coverage_ratio": report.coverage.coverage_ratio,
        "fill_rate": ex.fill_rate,
        "win_rate": pnl.win_rate,
        "llm_error_rate": report.llm.error_rate,
        "decision_to_submit_p50_ms": ex.decision_to_submit.p50_ms,
        "decision_to_submit_p95_ms": ex.decision_to_submit.p95_ms,
    }
    money = {
        "realized": pnl.realized,
        "unrealized": pnl.unrealized,
        "gross": pnl.gross,
        "costs": pnl.costs,
        "net": pnl.net,
        "max_drawdown": pnl.max_drawdown,
        "turnover": pnl.turnover,
    }
    return frame_from_arrays(
        {
            **{k: pl.Series([v], dtype=pl.String) for k, v in text.items()},
            **{k: pl.Series([v], dtype=pl.Int64) for k, v in counts.items()},
            **{k: pl.Series([v], dtype=pl.Float64) for k, v in ratios.items()},
            **{k: _money(v) for k, v in money.items()},
        }
    )
