"""The governance verdict: every reason code, on the smallest run that triggers it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from torghut_sim.layout import RunPaths
from torghut_sim.report.api import compute
from torghut_sim.report.inputs import load_run
from torghut_sim.report.model import SimulationReport
from unit.report_builders import RunBuilder, at

STAMP = datetime(2026, 3, 7, tzinfo=UTC)


def _report(builder: RunBuilder, **write: object) -> SimulationReport:
    return compute(load_run(builder.write(**write)), STAMP).draft  # type: ignore[arg-type]


def _codes(report: SimulationReport) -> list[str]:
    return [r.code for r in report.verdict.reasons]


def _healthy(builder: RunBuilder) -> tuple[str, str]:
    decision = builder.decision(signal_ts=at(0))
    execution = builder.execution(decision, "buy", "1", "10")
    builder.order_event(execution, decision, at(5))
    builder.tca(execution, decision)
    return decision, execution


@pytest.fixture
def builder(tmp_path: Path) -> RunBuilder:
    return RunBuilder(tmp_path / "run")


def test_pass(builder: RunBuilder) -> None:
    _healthy(builder)
    report = _report(builder)
    assert report.verdict.status == "PASS"
    assert report.verdict.reasons == []


def test_fail_no_decisions_and_no_executions(builder: RunBuilder) -> None:
    report = _report(builder)
    assert report.verdict.status == "FAIL"
    assert _codes(report) == ["decisions_below_minimum", "executions_below_minimum"]


def test_fail_decisions_below_configured_minimum(builder: RunBuilder) -> None:
    builder.manifest["monitor"]["min_trade_decisions"] = 2
    _healthy(builder)
    assert _codes(_report(builder)) == ["decisions_below_minimum"]


def test_fail_executions_below_minimum(builder: RunBuilder) -> None:
    builder.decision()
    assert _codes(_report(builder)) == ["executions_below_minimum"]


def test_fail_coverage_below_strict_ratio(builder: RunBuilder) -> None:
    _healthy(builder)
    report = _report(builder, coverage=0.9)
    assert report.verdict.status == "FAIL"
    assert _codes(report) == ["coverage_below_strict_ratio"]


def test_coverage_at_the_ratio_passes(builder: RunBuilder) -> None:
    _healthy(builder)
    assert _report(builder, coverage=0.95).verdict.status == "PASS"


def test_warn_coverage_unavailable(builder: RunBuilder) -> None:
    _healthy(builder)
    report = _report(builder, coverage=None)
    assert (report.verdict.status, _codes(report)) == ("WARN", ["coverage_unavailable"])


def test_warn_order_events_missing(builder: RunBuilder) -> None:
    decision = builder.decision()
    execution = builder.execution(decision, "buy", "1", "10")
    builder.tca(execution, decision)
    assert _codes(_report(builder)) == ["order_events_missing"]


def test_warn_order_events_below_minimum(builder: RunBuilder) -> None:
    builder.manifest["monitor"]["min_execution_order_events"] = 2
    _healthy(builder)
    assert _codes(_report(builder)) == ["order_events_missing"]


def test_warn_order_lifecycle_incomplete(builder: RunBuilder) -> None:
    _healthy(builder)
    decision = builder.decision()
    builder.execution(decision, "sell", "1", "11")
    assert _codes(_report(builder)) == ["order_lifecycle_incomplete"]


def test_warn_order_events_unlinked(builder: RunBuilder) -> None:
    _healthy(builder)
    builder.order_event("ghost", "ghost-decision", at(9))
    assert _codes(_report(builder)) == ["order_events_unlinked"]


def test_warn_adapter_mismatch(builder: RunBuilder) -> None:
    _healthy(builder)
    builder.tables["executions"][0]["execution_actual_adapter"] = "alpaca"
    assert _codes(_report(builder)) == ["adapter_mismatch"]


def test_warn_llm_error_rate(builder: RunBuilder) -> None:
    decision, _ = _healthy(builder)
    for _ in range(19):
        builder.review(decision, "approve")
    builder.review(decision, "error")
    assert _report(builder).verdict.status == "PASS"  # exactly 5 % is not above 5 %
    builder.review(decision, "error")
    assert _codes(_report(builder)) == ["llm_error_rate_high"]


def test_warn_fallback_ratio(builder: RunBuilder) -> None:
    _healthy(builder)
    decision = builder.decision()
    execution = builder.execution(
        decision, "sell", "1", "11", fallback_reason="adapter_timeout", fallback_count=1
    )
    builder.order_event(execution, decision, at(9))
    builder.tca(execution, decision)
    report = _report(builder)
    assert _codes(report) == ["fallback_ratio_high"]
    assert report.execution_quality.fallback_reasons == {"adapter_timeout": 1}


def test_warn_tca_below_minimum(builder: RunBuilder) -> None:
    builder.manifest["monitor"]["min_execution_tca_metrics"] = 1
    decision = builder.decision()
    execution = builder.execution(decision, "buy", "1", "10")
    builder.order_event(execution, decision, at(5))
    assert _codes(_report(builder)) == ["tca_metrics_below_minimum"]


def test_warn_replay_mismatch(builder: RunBuilder) -> None:
    _healthy(builder)
    builder.write()
    marker = builder.root / "replay-marker.json"
    marker.write_text(marker.read_text().replace('"records": 1000', '"records": 999'))
    report = compute(load_run(builder.root), STAMP).draft
    assert _codes(report) == ["replay_mismatch"]


def test_failures_come_before_warnings(builder: RunBuilder) -> None:
    builder.decision()
    builder.review(builder.decision(), "error")
    report = _report(builder, coverage=0.5)
    assert report.verdict.status == "FAIL"
    assert _codes(report) == [
        "executions_below_minimum",
        "coverage_below_strict_ratio",
        "llm_error_rate_high",
    ]


def test_fail_when_the_monitor_says_the_inputs_were_cut_short(builder: RunBuilder) -> None:
    _healthy(builder)
    run_dir = builder.write()
    monitor = {"complete": False, "ended": "timeout", "problems": ["ta_input_incomplete", "monitor_timeout"]}
    RunPaths(run_dir).monitor.write_text(json.dumps(monitor))
    report = compute(load_run(run_dir), STAMP).draft
    assert report.verdict.status == "FAIL"
    assert _codes(report) == ["inputs_incomplete"]
    assert report.coverage.inputs_complete is False
    assert report.coverage.inputs_incomplete_reasons == ["monitor_timeout", "ta_input_incomplete"]
    assert "inputs_cut_short" in [c.code for c in report.caveats]


def test_a_complete_monitor_leaves_the_verdict_alone(builder: RunBuilder) -> None:
    _healthy(builder)
    run_dir = builder.write()
    RunPaths(run_dir).monitor.write_text(json.dumps({"complete": True, "ended": "stable", "problems": []}))
    report = compute(load_run(run_dir), STAMP).draft
    assert report.verdict.status == "PASS" and report.coverage.inputs_complete is True
    assert "inputs_cut_short" not in [c.code for c in report.caveats]
