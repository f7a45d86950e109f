"""The governance verdict: FAIL on hard minimums and coverage, WARN on telemetry and quality, else PASS."""

from __future__ import annotations

from torghut_sim.report.model import (
    Coverage,
    ExecutionQuality,
    Funnel,
    Llm,
    Severity,
    VerdictReason,
    VerdictSection,
)
from torghut_sim.report.settings import ReportSettings
from torghut_sim.report.stability import FALLBACK_RATIO_LIMIT, LLM_ERROR_RATE_LIMIT

# Every code the verdict can carry; dashboards and CI checks key on these.
FAIL_CODES = (
    "inputs_incomplete",
    "decisions_below_minimum",
    "executions_below_minimum",
    "coverage_below_strict_ratio",
)
WARN_CODES = (
    "empty_day",
    "coverage_unavailable",
    "order_events_missing",
    "order_events_unlinked",
    "order_lifecycle_incomplete",
    "adapter_mismatch",
    "llm_error_rate_high",
    "fallback_ratio_high",
    "tca_metrics_below_minimum",
    "replay_mismatch",
)


def decide(
    settings: ReportSettings, coverage: Coverage, funnel: Funnel, execution: ExecutionQuality, llm: Llm
) -> VerdictSection:
    """The verdict and every reason for it, failures first, each group in code order."""
    if coverage.dump_status == "empty_day":
        # Nothing to simulate is an outcome of the day, not a strategy finding: no minimum applies.
        empty = VerdictReason(
            code="empty_day",
            severity="warn",
            message="no source records in the session window; nothing was simulated",
        )
        return VerdictSection(status="WARN", reasons=[empty])
    reasons = [
        *_input_reasons(settings, coverage, funnel),
        *_quality_reasons(settings, coverage, funnel, execution, llm),
    ]
    order = {code: i for i, code in enumerate(FAIL_CODES + WARN_CODES)}
    reasons.sort(key=lambda r: (r.severity != "fail", order.get(r.code, len(order))))
    status = "FAIL" if any(r.severity == "fail" for r in reasons) else "WARN" if reasons else "PASS"
    return VerdictSection(status=status, reasons=reasons)


def _input_reasons(settings: ReportSettings, coverage: Coverage, funnel: Funnel) -> list[VerdictReason]:
    """Whether the day had enough to judge: complete inputs, enough decisions and executions, coverage."""
    reasons: list[VerdictReason] = []

    def reason(code: str, severity: Severity, message: str) -> None:
        reasons.append(VerdictReason(code=code, severity=severity, message=message))

    if coverage.inputs_complete is False:
        # The figures describe part of the window only: never a PASS, whatever they look like.
        reason(
            "inputs_incomplete",
            "fail",
            "the monitor ended before every stage consumed the whole window: "
            + ", ".join(coverage.inputs_incomplete_reasons or ["unknown"]),
        )
    if funnel.decisions < settings.min_trade_decisions:
        reason(
            "decisions_below_minimum",
            "fail",
            f"{funnel.decisions} trade decisions < minimum {settings.min_trade_decisions}",
        )
    if funnel.executions < settings.min_executions:
        reason(
            "executions_below_minimum",
            "fail",
            f"{funnel.executions} executions < minimum {settings.min_executions}",
        )
    if coverage.coverage_ratio is None:
        reason("coverage_unavailable", "warn", "no dump marker with session coverage was found")
    elif coverage.coverage_ratio < settings.strict_coverage_ratio:
        reason(
            "coverage_below_strict_ratio",
            "fail",
            f"session coverage {coverage.coverage_ratio} < strict ratio {settings.strict_coverage_ratio}",
        )
    return reasons


def _quality_reasons(
    settings: ReportSettings, coverage: Coverage, funnel: Funnel, execution: ExecutionQuality, llm: Llm
) -> list[VerdictReason]:
    """Warnings about what the runtime did: order lifecycle, adapters, LLM errors, fallbacks, TCA, replay."""
    reasons: list[VerdictReason] = []

    def reason(code: str, severity: Severity, message: str) -> None:
        reasons.append(VerdictReason(code=code, severity=severity, message=message))

    if funnel.executions > 0 and (
        funnel.order_events == 0 or funnel.order_events < settings.min_execution_order_events
    ):
        reason(
            "order_events_missing",
            "warn",
            f"{funnel.order_events} order events for {funnel.executions} executions "
            f"(minimum {settings.min_execution_order_events})",
        )
    elif execution.executions_with_order_events < funnel.executions:
        reason(
            "order_lifecycle_incomplete",
            "warn",
            f"{funnel.executions - execution.executions_with_order_events} executions have no order events",
        )
    if execution.order_events_unlinked:
        reason(
            "order_events_unlinked",
            "warn",
            f"{execution.order_events_unlinked} order events reference no known execution or decision",
        )
    if execution.adapter_mismatches:
        reason(
            "adapter_mismatch",
            "warn",
            f"{execution.adapter_mismatches} executions ran on another adapter than expected",
        )
    if llm.error_rate is not None and llm.error_rate > LLM_ERROR_RATE_LIMIT:
        reason("llm_error_rate_high", "warn", f"LLM error rate {llm.error_rate} > {LLM_ERROR_RATE_LIMIT}")
    if execution.fallback_ratio is not None and execution.fallback_ratio > FALLBACK_RATIO_LIMIT:
        reason(
            "fallback_ratio_high",
            "warn",
            f"execution fallback ratio {execution.fallback_ratio} > {FALLBACK_RATIO_LIMIT}",
        )
    if funnel.executions > 0 and funnel.tca_rows < settings.min_execution_tca_metrics:
        reason(
            "tca_metrics_below_minimum",
            "warn",
            f"{funnel.tca_rows} TCA rows < minimum {settings.min_execution_tca_metrics}",
        )
    if coverage.replay_matches_dump is False:
        reason("replay_mismatch", "warn", "the replay marker does not match the dump")
    return reasons
