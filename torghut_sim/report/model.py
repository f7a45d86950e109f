"""The report contract `torghut.simulation-report.v1`: pydantic models of every section, exact decimals."""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

SCHEMA_VERSION: Final = "torghut.simulation-report.v1"

# Wide enough that normalising a sum of scale-20 money values never rounds.
_WIDE = Context(prec=200)


def format_decimal(value: Decimal) -> str:
    """Canonical text of an exact decimal: no exponent, no trailing zeros, `0` for any zero."""
    if value == 0:
        return "0"
    return format(value.normalize(_WIDE), "f")


# Money, quantities and prices travel as strings so no consumer ever sees a rounded float.
ExactDecimal = Annotated[
    Decimal,
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}),
]

Verdict = Literal["PASS", "WARN", "FAIL"]
Severity = Literal["info", "warn", "fail"]
MarkSource = Literal["last_price", "last_fill", "none"]


class _Section(BaseModel):
    """Every section: immutable, no unknown fields, so the schema is the whole truth."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RunMetadata(_Section):
    """Who, when and under which cost assumptions this report was made."""

    run_id: str
    run_token: str | None
    dataset_id: str | None
    trading_day: str | None
    window_start: str | None
    window_end: str | None
    generated_at: str
    final_phase: str | None
    final_status: str | None
    scoped_by_run_id: bool
    commission_bps: ExactDecimal
    per_trade_fee: ExactDecimal
    llm_price_per_1k_tokens: ExactDecimal


class Coverage(_Section):
    """Data integrity of the dump and replay: session coverage, counts, offsets, window discipline."""

    dump_available: bool
    dump_status: str | None
    session_minutes: int | None
    covered_minutes: int | None
    coverage_ratio: float | None
    strict_coverage_ratio: float
    min_coverage_minutes: int | None
    meets_strict_ratio: bool | None
    records_dumped: int | None
    expected_records: int | None
    records_by_topic: dict[str, int]
    out_of_window_skipped: int | None
    out_of_window_rate: float | None
    partitions: int
    partitions_with_offset_gaps: list[str]
    offset_gap_records: int
    replay_available: bool
    records_replayed: int | None
    replay_records_by_topic: dict[str, int]
    replay_matches_dump: bool | None
    replay_pace_mode: str | None
    replay_duration_seconds: float | None
    clickhouse_rows: dict[str, int]
    # False when the monitor ended on its timeout or a stage had not consumed the whole window; None
    # when the run left no monitor evidence.
    inputs_complete: bool | None = None
    inputs_incomplete_reasons: list[str] = Field(default_factory=list)


class StrategySymbolFunnel(_Section):
    """Funnel counts of one strategy on one symbol."""

    strategy_id: str
    symbol: str
    decisions: int
    executions: int
    filled_executions: int


class ReasonCounts(_Section):
    """Counts of reason codes: whole values, and grouped by the part before the first `:`."""

    total: int
    by_reason: dict[str, int]
    by_group: dict[str, int]


class NotExecutedGroup(_Section):
    """Refused decisions of one strategy on one symbol at one stage, for one reason group."""

    strategy_id: str
    symbol: str
    submission_stage: str
    reason_group: str
    decisions: int


class NotExecuted(_Section):
    """Why decisions were not executed: rejected/blocked decisions by stage, class, origin and reason."""

    decisions: int
    rejected: int
    blocked: int
    by_stage: dict[str, int]
    by_class: dict[str, int]
    by_origin: dict[str, int]
    reasons: ReasonCounts
    by_strategy_symbol: list[NotExecutedGroup]


class Funnel(_Section):
    """Signal → decision → execution → fill counts and conversion rates."""

    signals_produced: int | None
    decisions: int
    decisions_out_of_scope: int
    decision_status_counts: dict[str, int]
    decisions_with_execution: int
    decision_to_execution_rate: float | None
    executions: int
    filled_executions: int
    execution_to_fill_rate: float | None
    order_events: int
    tca_rows: int
    llm_reviews: int
    by_strategy_symbol: list[StrategySymbolFunnel]
    # Added within v1: rejected and blocked decisions and their reasons (decision_json, CONTRACTS §6).
    not_executed: NotExecuted | None = None


class LatencyStats(_Section):
    """Distribution of one latency in milliseconds; percentiles null when there are no samples."""

    count: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class LatencyBucket(_Section):
    """How many samples of each latency fall in [lower_ms, upper_ms) (null bound: open-ended)."""

    bucket: str
    lower_ms: int | None
    upper_ms: int | None
    signal_to_decision: int
    decision_to_submit: int
    submit_to_first_event: int


class BpsStats(_Section):
    """Distribution of a basis-point measure over TCA rows."""

    count: int
    mean: float | None
    p50: float | None
    p95: float | None


class ExecutionQuality(_Section):
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


class SymbolPnl(_Section):
    """P&L contribution, activity and exposure of one symbol."""

    symbol: str
    fills: int
    bought_qty: ExactDecimal
    sold_qty: ExactDecimal
    turnover: ExactDecimal
    realized: ExactDecimal
    unrealized: ExactDecimal
    gross: ExactDecimal
    costs: ExactDecimal
    net: ExactDecimal
    open_qty: ExactDecimal
    mark_price: ExactDecimal | None
    mark_source: MarkSource
    max_abs_exposure: ExactDecimal
    closing_fills: int
    wins: int
    losses: int


class TcaProxy(_Section):
    """Implementation shortfall from the runtime's own TCA rows: a proxy, not mark-to-market."""

    rows: int
    shortfall_notional: ExactDecimal
    realized_pnl_proxy_notional: ExactDecimal


class Pnl(_Section):
    """FIFO trade P&L with explicit costs, the intraday equity curve summary and the TCA proxy."""

    fills: int
    skipped_zero_quantity: int
    skipped_missing_price: int
    skipped_unknown_side: int
    realized: ExactDecimal
    unrealized: ExactDecimal
    gross: ExactDecimal
    commission: ExactDecimal
    fees: ExactDecimal
    costs: ExactDecimal
    net: ExactDecimal
    turnover: ExactDecimal
    closing_fills: int
    wins: int
    losses: int
    win_rate: float | None
    average_win: ExactDecimal | None
    average_loss: ExactDecimal | None
    max_drawdown: ExactDecimal
    max_drawdown_at: str | None
    peak_gross_exposure: ExactDecimal
    equity_curve_points: int
    by_symbol: list[SymbolPnl]
    tca_proxy: TcaProxy


class LlmGroup(_Section):
    """LLM reviews of one model under one prompt version."""

    model: str
    prompt_version: str
    reviews: int
    errors: int
    error_rate: float | None
    verdict_counts: dict[str, int]
    mean_confidence: float | None
    tokens_prompt: int
    tokens_completion: int
    cost_proxy: ExactDecimal


class VerdictOutcome(_Section):
    """What happened to the decisions an LLM verdict was given for."""

    verdict: str
    reviews: int
    decisions_executed: int
    decisions_filled: int
    realized_pnl: ExactDecimal


class Llm(_Section):
    """LLM review behaviour: verdicts, errors, confidence and calibration, tokens and cost, outcomes."""

    reviews: int
    errors: int
    error_rate: float | None
    verdict_counts: dict[str, int]
    mean_confidence: float | None
    outcome_agreement_rate: float | None
    calibration_gap: float | None
    fallback_rate: float | None
    guardrail_rate: float | None
    tokens_prompt: int
    tokens_completion: int
    cost_proxy: ExactDecimal
    by_model_prompt: list[LlmGroup]
    verdict_outcomes: list[VerdictOutcome]


class Anomaly(_Section):
    """One stability finding with a stable code."""

    code: str
    severity: Severity
    message: str


class ComponentProgress(_Section):
    """The last progress row the runtime wrote for one component."""

    component: str
    status: str | None
    last_error: str | None


class Stability(_Section):
    """Runtime health over the run: anomalies, component errors, signal gaps, routing provenance."""

    anomalies: list[Anomaly]
    components: list[ComponentProgress]
    runtime_errors: int
    feature_quality_errors: int
    longest_signal_gap_minutes: float | None
    emergency_stop_flags: int


class VerdictReason(_Section):
    """Why the verdict is what it is: a stable code, its severity and a readable message."""

    code: str
    severity: Severity
    message: str


class VerdictSection(_Section):
    """The governance verdict of the run."""

    status: Verdict
    reasons: list[VerdictReason]


class ArtifactFile(_Section):
    """A file the report read or wrote, with its size in rows and its content hash."""

    name: str
    role: str
    rows: int | None
    sha256: str | None


class Artifacts(_Section):
    """The evidence behind the report (inputs) and the files it produced beside the JSON."""

    inputs: list[ArtifactFile]
    outputs: list[ArtifactFile]


class Caveat(_Section):
    """A limit of a metric the reader must know before trusting it."""

    code: str
    message: str


class StrategyReasonCount(_Section):
    """One strategy's count of one reason code."""

    strategy_id: str
    reason: str
    group: str
    count: int


class FallbackCount(_Section):
    """Execution adapter fallbacks from one adapter to another."""

    from_adapter: str
    to_adapter: str
    count: int


class RuntimeLlmCounters(_Section):
    """The runtime's own LLM review counters over the run."""

    requests: int
    approve: int
    veto: int
    adjust: int
    abstain: int
    escalate: int
    error: int
    tokens_prompt: int
    tokens_completion: int


class RuntimeMetrics(_Section):
    """What the runtime's `/metrics` counters moved during the run (scrape after − scrape before)."""

    status: Literal["ok", "unavailable", "not_scraped"]
    reason: str | None
    url_source: str | None
    process_restarted: bool
    restarted_samples: list[str]
    decisions: int
    decisions_by_state: dict[str, int]
    orders_submitted: int
    orders_rejected: int
    reject_reasons: ReasonCounts
    block_reasons: ReasonCounts
    strategy_intents: dict[str, int]
    suppression_reasons: list[StrategyReasonCount]
    strategy_errors: dict[str, int]
    reconcile_updates: int
    runtime_loop_failures: int
    domain_events: dict[str, int]
    rejected_signal_reasons: ReasonCounts
    no_signal_windows: int
    no_signal_reasons: ReasonCounts
    no_signal_streak: float | None
    staleness_alerts: ReasonCounts
    continuity_breaches: int
    continuity_alert_active: bool | None
    feature_quality_rejections: int
    feature_quality_reasons: ReasonCounts
    execution_fallbacks: list[FallbackCount]
    llm: RuntimeLlmCounters
    drift_rollback_triggers: int
    emergency_stop_signals: int
    kill_switch_signals: int
    rollback_triggered_events: int
    position_states: dict[str, int]


class SimulationReport(_Section):
    """The whole report of one simulation run."""

    schema_version: Literal["torghut.simulation-report.v1"] = "torghut.simulation-report.v1"
    run_metadata: RunMetadata
    coverage: Coverage
    funnel: Funnel
    execution_quality: ExecutionQuality
    pnl: Pnl
    llm: Llm
    # Added within v1: absent from reports made before the runtime served metrics.
    runtime_metrics: RuntimeMetrics | None = None
    stability: Stability
    verdict: VerdictSection
    artifacts: Artifacts
    caveats: list[Caveat]
