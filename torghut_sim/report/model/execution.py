"""The execution-quality section: fills, routing, lifecycle, latency and TCA distributions."""

from __future__ import annotations

from torghut_sim.report.model.base import Section


class LatencyStats(Section):
    """Distribution of one latency in milliseconds; percentiles null when there are no samples."""

    count: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class LatencyBucket(Section):
    """How many samples of each latency fall in [lower_ms, upper_ms) (null bound: open-ended)."""

    bucket: str
    lower_ms: int | None
    upper_ms: int | None
    signal_to_decision: int
    decision_to_submit: int
    submit_to_first_event: int


class BpsStats(Section):
    """Distribution of a basis-point measure over TCA rows."""

    count: int
    mean: float | None
    p50: float | None
    p95: float | None


class ExecutionQuality(Section):
    """How orders fared: fills, cancels, rejects, adapter routing, lifecycle telemetry, latency, TCA."""

    executions: int
    status_counts: dict[str, int]
    filled: int
    fully_filled: int
    canceled: int
    rejected: int
    fill_rate: float | None
    cancel_rate: float | None
    reject_rate: float | None
    adapter_provenance_rate: float | None
    adapter_mismatches: int
    adapter_mismatch_rate: float | None
    fallbacks: int
    fallback_ratio: float | None
    fallback_reasons: dict[str, int]
    executions_with_order_events: int
    lifecycle_completeness: float | None
    order_events_unlinked: int
    signal_ts_from_simulation_context: int
    signal_ts_from_event_ts: int
    signal_to_decision: LatencyStats
    decision_to_submit: LatencyStats
    submit_to_first_event: LatencyStats
    slippage_bps: BpsStats
    realized_shortfall_bps: BpsStats
    divergence_bps: BpsStats
    # Added within v1: counts per fixed latency bucket (edges in report/latency_buckets.py).
    latency_buckets: list[LatencyBucket] | None = None
