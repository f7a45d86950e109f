"""The funnel section: counts from decision to fill, and why decisions were not executed."""

from __future__ import annotations

from torghut_sim.report.model.base import Section


class StrategySymbolFunnel(Section):
    """Funnel counts of one strategy on one symbol."""

    strategy_id: str
    symbol: str
    decisions: int
    executions: int
    filled_executions: int


class ReasonCounts(Section):
    """Counts of reason codes: whole values, and grouped by the part before the first `:`."""

    total: int
    by_reason: dict[str, int]
    by_group: dict[str, int]


class NotExecutedGroup(Section):
    """Refused decisions of one strategy on one symbol at one stage, for one reason group."""

    strategy_id: str
    symbol: str
    submission_stage: str
    reason_group: str
    decisions: int


class NotExecuted(Section):
    """Why decisions were not executed: rejected/blocked decisions by stage, class, origin and reason."""

    decisions: int
    rejected: int
    blocked: int
    by_stage: dict[str, int]
    by_class: dict[str, int]
    by_origin: dict[str, int]
    reasons: ReasonCounts
    by_strategy_symbol: list[NotExecutedGroup]


class Funnel(Section):
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
