"""The execution-quality section: fills, cancels, rejects, adapter routing, lifecycle, latency and TCA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from torghut_sim.report.figures import count_where, rate, rounded, sorted_counts
from torghut_sim.report.inputs import RunInputs
from torghut_sim.report.latency_buckets import latency_buckets
from torghut_sim.report.model import BpsStats, ExecutionQuality, LatencyStats
from torghut_sim.report.percentiles import percentile_sorted

CANCELED = ("canceled", "cancelled", "expired")
REJECTED = ("rejected",)
LATENCY_COLUMNS = ("signal_to_decision_ms", "decision_to_submit_ms", "submit_to_first_event_ms")


@dataclass(frozen=True)
class ExecutionResult:
    """The section and the per-execution latency table behind it."""

    section: ExecutionQuality
    latency: pl.DataFrame
    # Per-decision signal→decision latency (a decision may have zero or several executions).
    decision_latency: pl.Series


def _ms(end: str, start: str) -> pl.Expr:
    return ((pl.col(end) - pl.col(start)).dt.total_microseconds() / 1000.0).cast(pl.Float64)


def latency_stats(values: pl.Series) -> LatencyStats:
    """count, mean and p50/p95/p99/max of a millisecond series, nulls ignored."""
    data = np.sort(values.drop_nulls().to_numpy().astype(np.float64))
    if len(data) == 0:
        return LatencyStats(count=0, mean_ms=None, p50_ms=None, p95_ms=None, p99_ms=None, max_ms=None)
    return LatencyStats(
        count=len(data),
        mean_ms=rounded(float(np.mean(data)), 3),
        p50_ms=rounded(percentile_sorted(data, 50), 3),
        p95_ms=rounded(percentile_sorted(data, 95), 3),
        p99_ms=rounded(percentile_sorted(data, 99), 3),
        max_ms=rounded(float(data[-1]), 3),
    )


def bps_stats(values: pl.Series) -> BpsStats:
    """count, mean, p50 and p95 of a basis-point column."""
    data = np.sort(values.cast(pl.Float64).drop_nulls().to_numpy().astype(np.float64))
    if len(data) == 0:
        return BpsStats(count=0, mean=None, p50=None, p95=None)
    return BpsStats(
        count=len(data),
        mean=rounded(float(np.mean(data))),
        p50=rounded(percentile_sorted(data, 50)),
        p95=rounded(percentile_sorted(data, 95)),
    )


def latency_table(inputs: RunInputs) -> pl.DataFrame:
    """One row per execution: the signal, decision, submit and first order-event times and the gaps."""
    first_events = inputs.order_events.group_by("execution_id").agg(
        pl.col("event_ts").min().alias("first_event_ts"), pl.len().alias("order_events")
    )
    decisions = inputs.decisions.select(
        pl.col("id").alias("trade_decision_id"),
        "strategy_id",
        "signal_ts",
        "signal_ts_source",
        pl.col("created_at").alias("decision_ts"),
    )
    return (
        inputs.executions.select(
            pl.col("id").alias("execution_id"),
            "trade_decision_id",
            "symbol",
            "status",
            pl.col("created_at").alias("submit_ts"),
        )
        .join(decisions, on="trade_decision_id", how="left")
        .join(first_events, on="execution_id", how="left")
        .with_columns(pl.col("order_events").fill_null(0).cast(pl.Int64))
        .with_columns(
            _ms("decision_ts", "signal_ts").alias("signal_to_decision_ms"),
            _ms("submit_ts", "decision_ts").alias("decision_to_submit_ms"),
            _ms("first_event_ts", "submit_ts").alias("submit_to_first_event_ms"),
        )
        .select(
            "execution_id",
            "trade_decision_id",
            "strategy_id",
            "symbol",
            "status",
            "signal_ts_source",
            "signal_ts",
            "decision_ts",
            "submit_ts",
            "first_event_ts",
            "order_events",
            *LATENCY_COLUMNS,
        )
        .sort("submit_ts", "execution_id", nulls_last=True)
    )


def build_execution(inputs: RunInputs) -> ExecutionResult:
    """Execution quality of the run's scoped executions."""
    ex = inputs.executions
    total = ex.height
    status = ex["status"].str.to_lowercase()
    canceled, rejected = int(status.is_in(CANCELED).sum()), int(status.is_in(REJECTED).sum())
    filled = count_where(ex, pl.col("filled_qty") > 0)
    fully = count_where(ex, (pl.col("submitted_qty") > 0) & (pl.col("filled_qty") >= pl.col("submitted_qty")))
    expected, actual = pl.col("execution_expected_adapter"), pl.col("execution_actual_adapter")
    mismatches = count_where(ex, expected.is_not_null() & actual.is_not_null() & (expected != actual))
    with_provenance = count_where(ex, actual.is_not_null())
    reason = pl.col("execution_fallback_reason").str.strip_chars()
    fallback_rows = ex.filter(
        (pl.col("execution_fallback_count") > 0).fill_null(value=False)
        | (reason.is_not_null() & (reason != ""))
    )
    fallback_reasons = sorted_counts(
        fallback_rows.select(pl.when(reason == "").then(None).otherwise(reason).alias("reason"))["reason"],
        missing="unspecified",
    )
    latency = latency_table(inputs)
    with_events = count_where(latency, pl.col("order_events") > 0)
    decision_latency = inputs.decisions.select(_ms("created_at", "signal_ts").alias("ms"))["ms"]
    source_counts = inputs.decisions["signal_ts_source"].value_counts()
    sources = {str(k): int(v) for k, v in source_counts.iter_rows()}
    section = ExecutionQuality(
        executions=total,
        status_counts=sorted_counts(status),
        filled=filled,
        fully_filled=fully,
        canceled=canceled,
        rejected=rejected,
        fill_rate=rate(filled, total),
        cancel_rate=rate(canceled, total),
        reject_rate=rate(rejected, total),
        adapter_provenance_rate=rate(with_provenance, total),
        adapter_mismatches=mismatches,
        adapter_mismatch_rate=rate(mismatches, total),
        fallbacks=fallback_rows.height,
        fallback_ratio=rate(fallback_rows.height, total),
        fallback_reasons=fallback_reasons,
        executions_with_order_events=with_events,
        lifecycle_completeness=rate(with_events, total),
        order_events_unlinked=inputs.order_events_unlinked,
        signal_ts_from_simulation_context=sources.get("simulation_context", 0),
        signal_ts_from_event_ts=sources.get("event_ts", 0),
        signal_to_decision=latency_stats(decision_latency),
        decision_to_submit=latency_stats(latency["decision_to_submit_ms"]),
        submit_to_first_event=latency_stats(latency["submit_to_first_event_ms"]),
        slippage_bps=bps_stats(inputs.tca["slippage_bps"]),
        realized_shortfall_bps=bps_stats(inputs.tca["realized_shortfall_bps"]),
        divergence_bps=bps_stats(inputs.tca["divergence_bps"]),
        latency_buckets=latency_buckets(decision_latency, latency),
    )
    return ExecutionResult(section=section, latency=latency, decision_latency=decision_latency)
