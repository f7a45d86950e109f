"""The funnel section: decisions → executions → fills, overall and per strategy × symbol."""

from __future__ import annotations

import polars as pl

from torghut_sim.report.figures import count_where, rate, sorted_counts
from torghut_sim.report.inputs import RunInputs
from torghut_sim.report.model import Funnel, StrategySymbolFunnel
from torghut_sim.report.not_executed import build_not_executed

FILLED = (pl.col("filled_qty") > 0).fill_null(value=False)


def _strategy_symbol(inputs: RunInputs) -> list[StrategySymbolFunnel]:
    decisions = inputs.decisions.select(
        pl.col("id"), pl.col("strategy_id").fill_null("unknown"), pl.col("symbol").fill_null("unknown")
    )
    per_decision = decisions.group_by("strategy_id", "symbol").agg(pl.len().alias("decisions"))
    # Executions are attributed to the strategy of their decision, and to their own symbol.
    per_execution = (
        inputs.executions.select(
            pl.col("trade_decision_id"), pl.col("symbol").fill_null("unknown"), FILLED.alias("filled")
        )
        .join(decisions.select("id", "strategy_id"), left_on="trade_decision_id", right_on="id", how="left")
        .with_columns(pl.col("strategy_id").fill_null("unknown"))
        .group_by("strategy_id", "symbol")
        .agg(pl.len().alias("executions"), pl.col("filled").sum().alias("filled_executions"))
    )
    table = (
        per_decision.join(per_execution, on=["strategy_id", "symbol"], how="full", coalesce=True)
        .fill_null(0)
        .sort("strategy_id", "symbol")
    )
    return [
        StrategySymbolFunnel(
            strategy_id=row["strategy_id"],
            symbol=row["symbol"],
            decisions=int(row["decisions"]),
            executions=int(row["executions"]),
            filled_executions=int(row["filled_executions"]),
        )
        for row in table.iter_rows(named=True)
    ]


def build_funnel(inputs: RunInputs, signals_produced: int | None) -> Funnel:
    """Counts and conversion rates of the run's trading funnel."""
    decisions = inputs.decisions.height
    executions = inputs.executions.height
    with_execution = count_where(
        inputs.decisions, pl.col("id").is_in(inputs.executions["trade_decision_id"].drop_nulls().implode())
    )
    filled = count_where(inputs.executions, FILLED)
    return Funnel(
        signals_produced=signals_produced,
        decisions=decisions,
        decisions_out_of_scope=inputs.decisions_out_of_scope,
        decision_status_counts=sorted_counts(inputs.decisions["status"].str.to_lowercase()),
        decisions_with_execution=with_execution,
        decision_to_execution_rate=rate(with_execution, decisions),
        executions=executions,
        filled_executions=filled,
        execution_to_fill_rate=rate(filled, executions),
        order_events=inputs.order_events.height,
        tca_rows=inputs.tca.height,
        llm_reviews=inputs.llm_reviews.height,
        by_strategy_symbol=_strategy_symbol(inputs),
        not_executed=build_not_executed(inputs.refusal_candidates),
    )
