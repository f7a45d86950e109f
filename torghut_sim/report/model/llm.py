"""The LLM section: review verdicts, errors, confidence, tokens and outcomes."""

from __future__ import annotations

from torghut_sim.report.model.base import ExactDecimal, Section


class LlmGroup(Section):
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


class VerdictOutcome(Section):
    """What happened to the decisions an LLM verdict was given for."""

    verdict: str
    reviews: int
    decisions_executed: int
    decisions_filled: int
    realized_pnl: ExactDecimal


class Llm(Section):
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
