"""The `runtime_metrics` section: what the runtime's own counters moved during the run (CONTRACTS §10).

Reads `runtime-metrics/runtime-metrics.json` (the deltas of the scrapes before the replay and after the
monitor) and turns it into report figures, stability anomalies, verdict reasons and caveats. Label values
are kept whole and grouped by the part before the first `:`; absent families count as 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from torghut_sim.report.model import (
    Anomaly,
    Caveat,
    FallbackCount,
    ReasonCounts,
    RuntimeLlmCounters,
    RuntimeMetrics,
    Stability,
    StrategyReasonCount,
    VerdictReason,
    VerdictSection,
)
from torghut_sim.report.not_executed import group_of
from torghut_sim.report.verdict import FAIL_CODES, WARN_CODES

P = "torghut_trading_"
LOOP_FAILED_EVENT = "torghut.runtime.loop_failed"
ROLLBACK_EVENT = "torghut.autonomy.rollback_triggered"
EMERGENCY_STOP_REASON = "emergency_stop_triggered"
KILL_SWITCH_REASON = "kill_switch_enabled"
# Verdict and anomaly codes of this section (WARN), in the order they are listed.
RUNTIME_WARN_CODES = (
    "runtime_loop_failures",
    "signal_continuity_breach",
    "runtime_emergency_stop",
    "runtime_strategy_errors",
    "runtime_restarted_during_run",
)


class _Deltas:
    """Typed access to the deltas of one run's scrapes."""

    def __init__(self, families: Mapping[str, Any]) -> None:
        self.families = families

    def samples(self, name: str) -> Iterator[tuple[dict[str, str], float, float]]:
        """(labels, delta, value after) of each sample of a family (nothing when absent)."""
        family = self.families.get(name) or {}
        for sample in family.get("samples") or []:
            labels = {str(k): str(v) for k, v in (sample.get("labels") or {}).items()}
            yield labels, float(sample.get("delta") or 0), float(sample.get("after") or 0)

    def total(self, name: str) -> int:
        """Sum of a counter's deltas over every label set."""
        return round(sum(delta for _l, delta, _a in self.samples(name)))

    def by_label(self, name: str, label: str) -> dict[str, int]:
        """A counter's deltas by one label's value (zero deltas left out), keys sorted."""
        out: dict[str, int] = {}
        for labels, delta, _after in self.samples(name):
            if round(delta):
                key = labels.get(label, "")
                out[key] = out.get(key, 0) + round(delta)
        return dict(sorted(out.items()))

    def by_two_labels(self, name: str, first: str, second: str) -> list[tuple[str, str, int]]:
        """(first label, second label, delta) of each sample that moved, sorted."""
        return sorted(
            (labels.get(first, ""), labels.get(second, ""), round(delta))
            for labels, delta, _after in self.samples(name)
            if round(delta)
        )

    def reasons(self, name: str, label: str = "reason") -> ReasonCounts:
        """A reason-labelled counter: whole codes and groups."""
        whole = self.by_label(name, label)
        groups: dict[str, int] = {}
        for reason, count in whole.items():
            groups[group_of(reason)] = groups.get(group_of(reason), 0) + count
        return ReasonCounts(total=sum(whole.values()), by_reason=whole, by_group=dict(sorted(groups.items())))

    def gauge(self, name: str) -> float | None:
        """A gauge's value after the run (None when the runtime does not expose it)."""
        values = [after for _l, _d, after in self.samples(name)]
        return values[0] if values else None


def build_runtime_metrics(record: Mapping[str, Any] | None) -> RuntimeMetrics:
    """The section from the run's metrics record (an unavailable section when there is none)."""
    record = record or {}
    status: Literal["ok", "unavailable", "not_scraped"] = "ok"
    reason: str | None = None
    if not record:
        status, reason = "not_scraped", "metrics_not_scraped"
    elif record.get("status") != "ok":
        failed = [record.get(which) or {} for which in ("before", "after")]
        status = "unavailable"
        reason = next((str(f["reason"]) for f in failed if f.get("reason")), "metrics_incomplete")
    deltas = record.get("deltas") if status == "ok" else None
    d = _Deltas((deltas or {}).get("families") or {})
    rejects = d.reasons(P + "decision_reject_reason_total")
    events = d.by_label(P + "domain_telemetry_event_total", "event")
    suppression = d.by_two_labels(P + "strategy_intent_suppression_total", "strategy_id", "reason")
    fallbacks = d.by_two_labels(P + "execution_fallback_total", "from", "to")
    continuity = d.gauge(P + "signal_continuity_alert_active")
    return RuntimeMetrics(
        status=status,
        reason=reason,
        url_source=record.get("url_source"),
        process_restarted=bool((deltas or {}).get("process_restarted")),
        restarted_samples=list((deltas or {}).get("restarted_samples") or []),
        decisions=d.total(P + "decisions_total"),
        decisions_by_state=d.by_label(P + "decision_state_total", "status"),
        orders_submitted=d.total(P + "orders_submitted_total"),
        orders_rejected=d.total(P + "orders_rejected_total"),
        reject_reasons=rejects,
        block_reasons=d.reasons(P + "submission_block_total"),
        strategy_intents=d.by_label(P + "strategy_intents_total", "strategy_id"),
        suppression_reasons=[
            StrategyReasonCount(strategy_id=s, reason=r, group=group_of(r), count=c)
            for s, r, c in suppression
        ],
        strategy_errors=d.by_label(P + "strategy_errors_total", "strategy_id"),
        reconcile_updates=d.total(P + "reconcile_updates_total"),
        runtime_loop_failures=events.get(LOOP_FAILED_EVENT, 0),
        domain_events=events,
        rejected_signal_reasons=d.reasons(P + "rejected_signal_reason_total"),
        no_signal_windows=d.total(P + "no_signal_windows_total"),
        no_signal_reasons=d.reasons(P + "no_signal_reason_total"),
        no_signal_streak=d.gauge(P + "no_signal_streak"),
        staleness_alerts=d.reasons(P + "signal_staleness_alert_total"),
        continuity_breaches=d.total(P + "signal_continuity_breach_total"),
        continuity_alert_active=None if continuity is None else continuity > 0,
        feature_quality_rejections=d.total(P + "feature_quality_rejections_total"),
        feature_quality_reasons=d.reasons(P + "feature_quality_reject_reason_total"),
        execution_fallbacks=[FallbackCount(from_adapter=f, to_adapter=t, count=c) for f, t, c in fallbacks],
        # Each LLM counter is the family `torghut_trading_llm_<field>_total` (CONTRACTS §10).
        llm=RuntimeLlmCounters(**{f: d.total(f"{P}llm_{f}_total") for f in RuntimeLlmCounters.model_fields}),
        drift_rollback_triggers=d.total(P + "drift_rollback_trigger_total"),
        emergency_stop_signals=rejects.by_group.get(EMERGENCY_STOP_REASON, 0),
        kill_switch_signals=rejects.by_group.get(KILL_SWITCH_REASON, 0),
        rollback_triggered_events=events.get(ROLLBACK_EVENT, 0),
        position_states=d.by_label(P + "simulation_position_state_total", "state"),
    )


def runtime_findings(rm: RuntimeMetrics) -> list[tuple[str, str]]:
    """(code, message) of every WARN finding the runtime's counters show, in code order."""
    found: list[tuple[str, str]] = []
    if rm.runtime_loop_failures:
        found.append(
            (
                "runtime_loop_failures",
                f"the runtime's loop failed {rm.runtime_loop_failures} times ({LOOP_FAILED_EVENT})",
            )
        )
    if rm.continuity_breaches or rm.continuity_alert_active:
        active = " and the alert is still active" if rm.continuity_alert_active else ""
        found.append(
            ("signal_continuity_breach", f"{rm.continuity_breaches} signal continuity breaches{active}")
        )
    stops = rm.emergency_stop_signals + rm.kill_switch_signals + rm.rollback_triggered_events
    if stops:
        found.append(
            (
                "runtime_emergency_stop",
                f"emergency stop {rm.emergency_stop_signals}, kill switch {rm.kill_switch_signals}, "
                f"rollback triggered {rm.rollback_triggered_events}",
            )
        )
    errors = sum(rm.strategy_errors.values())
    if errors:
        found.append(("runtime_strategy_errors", f"{errors} strategy evaluation errors"))
    if rm.process_restarted:
        found.append(
            (
                "runtime_restarted_during_run",
                "counters went down between the scrapes (process restarted): "
                + ", ".join(rm.restarted_samples[:5]),
            )
        )
    return found


def with_runtime_anomalies(stability: Stability, rm: RuntimeMetrics) -> Stability:
    """The stability section plus the runtime counters' findings (warn)."""
    extra = [Anomaly(code=c, severity="warn", message=m) for c, m in runtime_findings(rm)]
    if not extra:
        return stability
    return stability.model_copy(update={"anomalies": [*stability.anomalies, *extra]})


def with_runtime_reasons(verdict: VerdictSection, rm: RuntimeMetrics) -> VerdictSection:
    """The verdict with the runtime counters' WARN reasons merged in the stable code order."""
    extra = [VerdictReason(code=c, severity="warn", message=m) for c, m in runtime_findings(rm)]
    if not extra:
        return verdict
    order = {code: i for i, code in enumerate(FAIL_CODES + WARN_CODES + RUNTIME_WARN_CODES)}
    reasons = sorted(
        [*verdict.reasons, *extra], key=lambda r: (r.severity != "fail", order.get(r.code, len(order)))
    )
    status = "FAIL" if any(r.severity == "fail" for r in reasons) else "WARN"
    return VerdictSection(status=status, reasons=reasons)


def runtime_caveats(rm: RuntimeMetrics) -> list[Caveat]:
    """What the reader must know about the runtime's counters."""
    if rm.status != "ok":
        return [
            Caveat(
                code="runtime_metrics_unavailable",
                message=(
                    f"the runtime exposed no usable /metrics for this run ({rm.reason}); runtime_metrics "
                    "figures are zero, and loop failures, continuity breaches and emergency stops are unknown"
                ),
            )
        ]
    return [
        Caveat(
            code="runtime_metrics_process_wide",
            message=(
                "runtime_metrics are deltas of the runtime process's counters between a scrape before the "
                "replay and one after the monitor: anything else the process did meanwhile is included"
            ),
        )
    ]
