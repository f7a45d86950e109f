"""Funnel, execution quality, LLM and stability sections on small hand-computed runs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from torghut_sim.report.api import compute
from torghut_sim.report.inputs import load_run
from torghut_sim.report.model import SimulationReport
from unit.report_builders import RunBuilder, at

STAMP = datetime(2026, 3, 7, tzinfo=UTC)


def _report(builder: RunBuilder) -> SimulationReport:
    return compute(load_run(builder.write()), STAMP).draft


@pytest.fixture
def builder(tmp_path: Path) -> RunBuilder:
    return RunBuilder(tmp_path / "run")


def test_funnel_counts_and_rates(builder: RunBuilder) -> None:
    d1 = builder.decision("NVDA", status="executed")
    d2 = builder.decision("AMD", strategy="other", status="rejected")
    builder.decision("NVDA", status="executed")
    builder.execution(d1, "buy", "1", "10")
    builder.execution(d1, "buy", "0", "10", status="canceled")
    builder.execution(d2, "buy", "1", "10", symbol="AMD", status="rejected")
    funnel = _report(builder).funnel
    assert (funnel.decisions, funnel.executions, funnel.filled_executions) == (3, 3, 2)
    assert funnel.decisions_with_execution == 2
    assert funnel.decision_to_execution_rate == pytest.approx(2 / 3, abs=1e-6)
    assert funnel.decision_status_counts == {"executed": 2, "rejected": 1}
    rows = [
        (r.strategy_id, r.symbol, r.decisions, r.executions, r.filled_executions)
        for r in funnel.by_strategy_symbol
    ]
    assert rows == [("intraday_tsmom_v1", "NVDA", 2, 2, 1), ("other", "AMD", 1, 1, 1)]


def test_execution_rates_and_adapters(builder: RunBuilder) -> None:
    d = builder.decision()
    builder.execution(d, "buy", "1", "10", submitted_qty="2", status="partially_filled")
    builder.execution(d, "buy", "0", "10", status="canceled", actual_adapter="alpaca")
    builder.execution(d, "buy", "0", "10", status="rejected", actual_adapter=None)
    builder.execution(d, "buy", "2", "10", status="filled", fallback_count=2)
    ex = _report(builder).execution_quality
    assert (ex.filled, ex.fully_filled, ex.canceled, ex.rejected) == (2, 1, 1, 1)
    assert (ex.fill_rate, ex.cancel_rate, ex.reject_rate) == (0.5, 0.25, 0.25)
    assert (ex.adapter_mismatches, ex.adapter_provenance_rate) == (1, 0.75)
    assert ex.fallbacks == 1
    assert ex.fallback_reasons == {"unspecified": 1}


def test_latencies(builder: RunBuilder) -> None:
    # Decisions 1 s and 3 s after their signals; submits 100 ms and 300 ms later; first events +50 ms.
    for offset, signal_gap, submit_gap in ((0, 1.0, 0.1), (60, 3.0, 0.3)):
        d = builder.decision(signal_ts=at(offset), created_at=at(offset + signal_gap))
        e = builder.execution(d, "buy", "1", "10", created_at=at(offset + signal_gap + submit_gap))
        builder.order_event(e, d, at(offset + signal_gap + submit_gap + 0.05))
        builder.order_event(e, d, at(offset + signal_gap + submit_gap + 0.5))
    ex = _report(builder).execution_quality
    assert (ex.signal_to_decision.count, ex.signal_to_decision.p50_ms, ex.signal_to_decision.p95_ms) == (
        2,
        2000.0,
        2900.0,
    )
    assert ex.decision_to_submit.p50_ms == 200.0
    assert ex.decision_to_submit.max_ms == 300.0
    assert ex.submit_to_first_event.p99_ms == 50.0
    assert ex.lifecycle_completeness == 1.0


def test_empty_latency_is_null(builder: RunBuilder) -> None:
    builder.decision()
    ex = _report(builder).execution_quality
    assert ex.signal_to_decision.count == 0
    assert ex.signal_to_decision.p50_ms is None
    assert ex.decision_to_submit.p95_ms is None


def test_slippage_stats(builder: RunBuilder) -> None:
    d = builder.decision()
    e = builder.execution(d, "buy", "1", "10")
    for bps in ("1", "2", "3", "10"):
        builder.tca(e, d, slippage=bps)
    ex = _report(builder).execution_quality
    assert (ex.slippage_bps.count, ex.slippage_bps.mean, ex.slippage_bps.p50) == (4, 4.0, 2.5)


def test_llm_section(builder: RunBuilder) -> None:
    builder.manifest["reporting"]["llm_price_per_1k_tokens"] = "0.5"
    filled = builder.decision()
    builder.execution(filled, "buy", "1", "10")
    idle = builder.decision()
    builder.review(filled, "approve", confidence="0.9", response={"fallback": True})
    builder.review(idle, "veto", confidence="0.7", response={"fallback": False})
    builder.review(idle, "approve", confidence="0.5", model="gpt-y")
    builder.review(idle, "error", confidence=None, model="gpt-y", tokens=(0, 0))
    llm = _report(builder).llm
    assert (llm.reviews, llm.errors, llm.error_rate) == (4, 1, 0.25)
    assert llm.verdict_counts == {
        "abstain": 0,
        "adjust": 0,
        "approve": 2,
        "error": 1,
        "escalate": 0,
        "veto": 1,
    }
    assert llm.mean_confidence == pytest.approx(0.7)
    # approve+filled agrees, veto+idle agrees, approve+idle disagrees: 2/3; mean confidence 0.7.
    assert llm.outcome_agreement_rate == pytest.approx(0.666667)
    assert llm.calibration_gap == pytest.approx(0.7 - 0.666667, abs=1e-6)
    assert llm.fallback_rate == 0.5
    assert llm.guardrail_rate is None
    assert (llm.tokens_prompt, llm.tokens_completion) == (300, 60)
    assert llm.cost_proxy == Decimal("0.18")
    groups = [(g.model, g.reviews, g.errors) for g in llm.by_model_prompt]
    assert groups == [("gpt-x", 2, 0), ("gpt-y", 2, 1)]
    outcomes = {
        o.verdict: (o.reviews, o.decisions_executed, o.decisions_filled) for o in llm.verdict_outcomes
    }
    assert outcomes == {"approve": (2, 1, 1), "error": (1, 0, 0), "veto": (1, 0, 0)}


def test_stability_anomalies(builder: RunBuilder) -> None:
    builder.decision(signal_ts=at(600))
    builder.progress("torghut", last_error="feature quality gate failed: staleness")
    builder.progress("ta", last_error="consumer lag")
    builder.progress("replay", payload={"emergency_stop": True})
    stability = _report(builder).stability
    codes = [a.code for a in stability.anomalies]
    assert codes == [
        "no_executions",
        "no_order_events",
        "runtime_error",
        "feature_quality_error",
        "emergency_stop_flagged",
    ]
    assert (stability.runtime_errors, stability.feature_quality_errors, stability.emergency_stop_flags) == (
        2,
        1,
        1,
    )
    # One signal 10 minutes after the open of a 390-minute session: the longest gap is the remaining 380.
    assert stability.longest_signal_gap_minutes == 380.0


def test_replay_figures_come_from_the_replayers_own_marker(builder: RunBuilder) -> None:
    coverage = _report(builder).coverage
    assert coverage.replay_available
    assert coverage.replay_pace_mode == "max_throughput"
    assert coverage.replay_matches_dump is True
