"""The `runtime_metrics` section: scrapes around a run → deltas → figures, stability, verdict, caveats."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from torghut_sim.layout import RunPaths
from torghut_sim.report import build_report
from torghut_sim.report.schema import report_json_schema
from torghut_sim.runtime_metrics.probe import RuntimeMetricsProbe, ScrapeError
from unit.report_builders import RunBuilder, at

P = "torghut_trading_"
BEFORE = f"""# TYPE {P}decisions_total counter
{P}decisions_total 100
# TYPE {P}decision_state_total counter
{P}decision_state_total{{status="executed"}} 80
{P}decision_state_total{{status="rejected"}} 20
# TYPE {P}orders_submitted_total counter
{P}orders_submitted_total 80
# TYPE {P}orders_rejected_total counter
{P}orders_rejected_total 20
# TYPE {P}decision_reject_reason_total counter
{P}decision_reject_reason_total{{reason="signal_lag_exceeded:312"}} 5
# TYPE {P}submission_block_total counter
# TYPE {P}strategy_intent_suppression_total counter
{P}strategy_intent_suppression_total{{strategy_id="s1",reason="cooldown_active"}} 7
# TYPE {P}domain_telemetry_event_total counter
# TYPE {P}no_signal_streak gauge
{P}no_signal_streak 0
# TYPE {P}signal_continuity_alert_active gauge
{P}signal_continuity_alert_active 0
# TYPE {P}llm_requests_total counter
{P}llm_requests_total 100
# TYPE {P}llm_veto_total counter
{P}llm_veto_total 10
"""
AFTER = f"""# TYPE {P}decisions_total counter
{P}decisions_total 110
# TYPE {P}decision_state_total counter
{P}decision_state_total{{status="executed"}} 86
{P}decision_state_total{{status="rejected"}} 23
{P}decision_state_total{{status="blocked"}} 1
# TYPE {P}orders_submitted_total counter
{P}orders_submitted_total 86
# TYPE {P}orders_rejected_total counter
{P}orders_rejected_total 23
# TYPE {P}decision_reject_reason_total counter
{P}decision_reject_reason_total{{reason="signal_lag_exceeded:312"}} 6
{P}decision_reject_reason_total{{reason="signal_lag_exceeded:900"}} 1
{P}decision_reject_reason_total{{reason="emergency_stop_triggered"}} 1
# TYPE {P}submission_block_total counter
{P}submission_block_total{{reason="capital_stage_shadow:llm_abstained"}} 1
# TYPE {P}strategy_intent_suppression_total counter
{P}strategy_intent_suppression_total{{strategy_id="s1",reason="cooldown_active"}} 9
{P}strategy_intent_suppression_total{{strategy_id="s1",reason="position_limit_reached:long"}} 2
# TYPE {P}domain_telemetry_event_total counter
{P}domain_telemetry_event_total{{event="torghut.runtime.loop_failed"}} 2
# TYPE {P}no_signal_windows_total counter
{P}no_signal_windows_total 6
# TYPE {P}no_signal_reason_total counter
{P}no_signal_reason_total{{reason="no_signals_in_window"}} 6
# TYPE {P}no_signal_streak gauge
{P}no_signal_streak 0
# TYPE {P}signal_continuity_breach_total counter
{P}signal_continuity_breach_total 1
# TYPE {P}signal_continuity_alert_active gauge
{P}signal_continuity_alert_active 0
# TYPE {P}feature_quality_reject_reason_total counter
{P}feature_quality_reject_reason_total{{reason="required_feature_null:rsi14"}} 14
{P}feature_quality_reject_reason_total{{reason="required_feature_null:macd_hist"}} 3
# TYPE {P}llm_requests_total counter
{P}llm_requests_total 110
# TYPE {P}llm_veto_total counter
{P}llm_veto_total 13
"""


def _run(root: Path) -> Path:
    builder = RunBuilder(root)
    d = builder.decision("NVDA", signal_ts=at(0))
    e = builder.execution(d, "buy", "1", "10", fill_ts=at(2))
    builder.order_event(e, d, at(1))
    builder.review(d, "approve")
    builder.last_price("NVDA", "10")
    return builder.write()


def _probe(run: Path, before: str, after: str) -> RuntimeMetricsProbe:
    texts = iter([before, after])
    probe = RuntimeMetricsProbe(
        RunPaths(run), lambda: ("http://127.0.0.1:1/metrics", "service_status"), lambda _url: next(texts)
    )
    probe.scrape_before()
    probe.scrape_after()
    return probe


def test_section_holds_hand_computed_deltas(tmp_path: Path) -> None:
    run = _run(tmp_path / "run")
    _probe(run, BEFORE, AFTER)
    paths = RunPaths(run)
    assert (paths.runtime_metrics_dir / "before.prom").read_text() == BEFORE
    assert (paths.runtime_metrics_dir / "after.prom").read_text() == AFTER
    doc = json.loads(build_report(run, with_charts=False).json_path.read_text())
    jsonschema.Draft202012Validator(report_json_schema()).validate(doc)
    rm = doc["runtime_metrics"]
    assert rm["status"] == "ok"
    assert rm["url_source"] == "service_status"
    assert rm["decisions"] == 10  # 110 − 100
    assert rm["decisions_by_state"] == {"blocked": 1, "executed": 6, "rejected": 3}
    assert (rm["orders_submitted"], rm["orders_rejected"]) == (6, 3)
    # 5→6 (+1), absent→1 (+1), absent→1 (+1): whole codes, and by the part before ':'.
    assert rm["reject_reasons"] == {
        "total": 3,
        "by_reason": {
            "emergency_stop_triggered": 1,
            "signal_lag_exceeded:312": 1,
            "signal_lag_exceeded:900": 1,
        },
        "by_group": {"emergency_stop_triggered": 1, "signal_lag_exceeded": 2},
    }
    assert rm["block_reasons"]["by_group"] == {"capital_stage_shadow": 1}
    assert rm["suppression_reasons"] == [
        {"strategy_id": "s1", "reason": "cooldown_active", "group": "cooldown_active", "count": 2},
        {
            "strategy_id": "s1",
            "reason": "position_limit_reached:long",
            "group": "position_limit_reached",
            "count": 2,
        },
    ]
    assert rm["runtime_loop_failures"] == 2
    assert (rm["no_signal_windows"], rm["no_signal_reasons"]["total"]) == (6, 6)
    assert (rm["continuity_breaches"], rm["continuity_alert_active"]) == (1, False)
    # The family with no total counter: its reasons are still counted, the absent total reads 0.
    assert rm["feature_quality_rejections"] == 0
    assert rm["feature_quality_reasons"]["by_group"] == {"required_feature_null": 17}
    assert (rm["llm"]["requests"], rm["llm"]["veto"], rm["llm"]["approve"]) == (10, 3, 0)
    assert (rm["emergency_stop_signals"], rm["kill_switch_signals"]) == (1, 0)
    assert rm["process_restarted"] is False
    codes = [r["code"] for r in doc["verdict"]["reasons"]]
    assert doc["verdict"]["status"] == "WARN"
    assert codes == ["runtime_loop_failures", "signal_continuity_breach", "runtime_emergency_stop"]
    anomalies = [a["code"] for a in doc["stability"]["anomalies"]]
    assert {"runtime_loop_failures", "signal_continuity_breach", "runtime_emergency_stop"} <= set(anomalies)
    assert "runtime_metrics_process_wide" in [c["code"] for c in doc["caveats"]]
    markdown = (run / "report" / "simulation-report.md").read_text()
    assert "## Runtime metrics" in markdown
    assert "| signal_lag_exceeded:900 | 1 |" in markdown
    assert "| s1 | position_limit_reached:long | 2 |" in markdown


def test_a_restart_between_scrapes_is_reported_not_negative(tmp_path: Path) -> None:
    run = _run(tmp_path / "run")
    after = BEFORE.replace(f"{P}decisions_total 100", f"{P}decisions_total 4")
    _probe(run, BEFORE, after)
    doc = json.loads(build_report(run, with_charts=False).json_path.read_text())
    rm = doc["runtime_metrics"]
    assert rm["decisions"] == 4
    assert rm["process_restarted"] is True
    assert rm["restarted_samples"] == [f"{P}decisions_total"]
    assert [r["code"] for r in doc["verdict"]["reasons"]] == ["runtime_restarted_during_run"]


def test_no_metrics_is_a_caveat_not_a_warning(tmp_path: Path) -> None:
    run = _run(tmp_path / "run")
    doc = json.loads(build_report(run, with_charts=False).json_path.read_text())
    assert doc["runtime_metrics"]["status"] == "not_scraped"
    assert doc["runtime_metrics"]["decisions"] == 0
    assert doc["verdict"]["status"] == "PASS"
    assert "runtime_metrics_unavailable" in [c["code"] for c in doc["caveats"]]
    assert "exposed no usable /metrics" in (run / "report" / "simulation-report.md").read_text()


def test_a_failed_scrape_is_recorded_with_its_reason(tmp_path: Path) -> None:
    run = _run(tmp_path / "run")

    def refuse(_url: str) -> str:
        raise ScrapeError("http://127.0.0.1:1/metrics unreachable: refused")

    probe = RuntimeMetricsProbe(RunPaths(run), lambda: ("http://127.0.0.1:1/metrics", "manifest"), refuse)
    assert probe.scrape_before()["reason"] == "metrics_scrape_failed"
    assert probe.scrape_after()["status"] == "unavailable"
    unconfigured = RuntimeMetricsProbe(RunPaths(tmp_path / "other"), lambda: None)
    assert unconfigured.scrape_before()["reason"] == "metrics_url_unknown"
    doc = json.loads(build_report(run, with_charts=False).json_path.read_text())
    assert doc["runtime_metrics"]["status"] == "unavailable"
    assert doc["runtime_metrics"]["reason"] == "metrics_scrape_failed"
    assert doc["verdict"]["status"] == "PASS"


@pytest.mark.parametrize("bad", ["metric{ 1\n", "not a metric line at all\n"])
def test_malformed_exposition_is_not_kept(tmp_path: Path, bad: str) -> None:
    run = _run(tmp_path / "run")
    probe = RuntimeMetricsProbe(
        RunPaths(run), lambda: ("http://127.0.0.1:1/metrics", "manifest"), lambda _u: bad
    )
    assert probe.scrape_before()["reason"] == "metrics_text_invalid"
    assert not (RunPaths(run).runtime_metrics_dir / "before.prom").exists()
