"""The runtime-metrics section: what the runtime's own `/metrics` counters moved during the run."""

from __future__ import annotations

from typing import Literal

from torghut_sim.report.model.base import Section
from torghut_sim.report.model.funnel import ReasonCounts


class StrategyReasonCount(Section):
    """One strategy's count of one reason code."""

    strategy_id: str
    reason: str
    group: str
    count: int


class FallbackCount(Section):
    """Execution adapter fallbacks from one adapter to another."""

    from_adapter: str
    to_adapter: str
    count: int


class RuntimeLlmCounters(Section):
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


class RuntimeMetrics(Section):
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
