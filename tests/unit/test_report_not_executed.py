"""Why decisions were not executed: reasons by stage, class, origin, reason code and strategy × symbol."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from torghut_sim.report import build_report
from torghut_sim.report.inputs import load_run
from torghut_sim.report.not_executed import reasons_of
from torghut_sim.report.schema import report_json_schema
from unit.report_builders import RunBuilder, at


def _run(root: Path) -> Path:
    b = RunBuilder(root)
    d = b.decision("NVDA", signal_ts=at(0))
    e = b.execution(d, "buy", "1", "10", fill_ts=at(2))
    b.order_event(e, d, at(1))
    # 1: a pre-submit reject, one `;`-joined risk reason and its atomic codes (atomic wins).
    b.decision(
        "NVDA",
        status="rejected",
        fields={
            "risk_reasons": ["signal_lag_exceeded:312;llm_veto"],
            "reject_reason_atomic": ["signal_lag_exceeded:312", "llm_veto"],
            "reject_class": "market_context",
            "reject_origin": "risk_engine",
            "submission_stage": "rejected_pre_submit",
        },
    )
    # 2: no atomic list: the risk reasons are split on `;`, a repeated code counts once.
    b.decision(
        "AMD",
        status="rejected",
        fields={
            "risk_reasons": ["signal_lag_exceeded:900;signal_lag_exceeded:900", "capacity_exhausted"],
            "reject_class": "capacity",
            "reject_origin": "risk_engine",
            "submission_stage": "rejected_pre_submit",
        },
    )
    # 3: blocked, reason string only.
    b.decision(
        "NVDA",
        status="blocked",
        fields={
            "submission_block_reason": "emergency_stop:manual",
            "submission_stage": "blocked_emergency_stop",
        },
    )
    # 4: rejected with nothing said about it.
    b.decision("AMD", status="rejected", strategy="other")
    # 5: canceled at the broker but marked unfilled: a refusal by its stage.
    b.decision(
        "AMD",
        status="canceled",
        fields={
            "reject_reason_atomic": ["broker_timeout"],
            "reject_class": "broker_precheck",
            "reject_origin": "broker",
            "submission_stage": "rejected_unfilled",
        },
    )
    # 6: an executed decision with some other stage text is not a refusal.
    b.decision("NVDA", status="executed", fields={"submission_stage": "submitted"})
    return b.write()


def test_refused_decisions_by_stage_class_origin_and_reason(tmp_path: Path) -> None:
    doc = json.loads(build_report(_run(tmp_path / "run"), with_charts=False).json_path.read_text())
    jsonschema.Draft202012Validator(report_json_schema()).validate(doc)
    ne = doc["funnel"]["not_executed"]
    assert (ne["decisions"], ne["rejected"], ne["blocked"]) == (5, 4, 1)
    assert ne["by_stage"] == {
        "blocked_emergency_stop": 1,
        "rejected_pre_submit": 2,
        "rejected_unfilled": 1,
        "unspecified": 1,
    }
    assert ne["by_class"] == {"broker_precheck": 1, "capacity": 1, "market_context": 1, "unspecified": 1}
    assert ne["by_origin"] == {"broker": 1, "risk_engine": 2, "unspecified": 1}
    assert ne["reasons"] == {
        "total": 7,
        "by_reason": {
            "broker_timeout": 1,
            "capacity_exhausted": 1,
            "emergency_stop:manual": 1,
            "llm_veto": 1,
            "signal_lag_exceeded:312": 1,
            "signal_lag_exceeded:900": 1,
            "unspecified": 1,
        },
        "by_group": {
            "broker_timeout": 1,
            "capacity_exhausted": 1,
            "emergency_stop": 1,
            "llm_veto": 1,
            "signal_lag_exceeded": 2,
            "unspecified": 1,
        },
    }
    rows = [
        (g["strategy_id"], g["symbol"], g["submission_stage"], g["reason_group"], g["decisions"])
        for g in ne["by_strategy_symbol"]
    ]
    assert rows == [
        ("intraday_tsmom_v1", "AMD", "rejected_pre_submit", "capacity_exhausted", 1),
        ("intraday_tsmom_v1", "AMD", "rejected_pre_submit", "signal_lag_exceeded", 1),
        ("intraday_tsmom_v1", "AMD", "rejected_unfilled", "broker_timeout", 1),
        ("intraday_tsmom_v1", "NVDA", "blocked_emergency_stop", "emergency_stop", 1),
        ("intraday_tsmom_v1", "NVDA", "rejected_pre_submit", "llm_veto", 1),
        ("intraday_tsmom_v1", "NVDA", "rejected_pre_submit", "signal_lag_exceeded", 1),
        ("other", "AMD", "unspecified", "unspecified", 1),
    ]
    markdown = (tmp_path / "run" / "report" / "simulation-report.md").read_text()
    assert "## Why decisions were not executed" in markdown
    assert "| rejected / blocked | 4 / 1 |" in markdown
    assert "| intraday_tsmom_v1 | NVDA | blocked_emergency_stop | emergency_stop | 1 |" in markdown


def test_the_loaded_run_keeps_decision_json_only_for_possible_refusals(tmp_path: Path) -> None:
    inputs = load_run(_run(tmp_path / "run"))
    assert "decision_json" not in inputs.decisions.columns
    assert inputs.decisions.height == 7
    # The five refusals and the executed decision whose document names a stage; not the plain one.
    candidates = inputs.refusal_candidates
    assert candidates.columns == ["strategy_id", "symbol", "status", "decision_json"]
    assert sorted(candidates["status"].to_list()) == [
        "blocked",
        "canceled",
        "executed",
        "rejected",
        "rejected",
        "rejected",
    ]


def test_a_run_without_refusals_says_so(tmp_path: Path) -> None:
    b = RunBuilder(tmp_path / "run")
    d = b.decision("NVDA")
    b.execution(d, "buy", "1", "10")
    doc = json.loads(build_report(b.write(), with_charts=False).json_path.read_text())
    ne = doc["funnel"]["not_executed"]
    assert (ne["decisions"], ne["reasons"]["total"], ne["by_strategy_symbol"]) == (0, 0, [])
    assert (
        "no decision was rejected or blocked"
        in (tmp_path / "run" / "report" / "simulation-report.md").read_text()
    )


def test_reason_extraction_tolerates_odd_shapes() -> None:
    assert reasons_of({"risk_reasons": "a;b; ;a"}, "rejected") == ["a", "b"]
    assert reasons_of({"reject_reason_atomic": [], "risk_reasons": ["x"]}, "rejected") == ["x"]
    assert reasons_of({"reject_reason_atomic": [1, None]}, "rejected") == ["unspecified"]
    assert reasons_of({"submission_block_atomic": ["k:1"], "submission_block_reason": "z"}, "blocked") == [
        "k:1"
    ]
    assert reasons_of(
        {"submission_stage": "blocked_trading_disabled", "submission_block_reason": "t"}, ""
    ) == ["t"]
