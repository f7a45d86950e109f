"""The period's figures by hand: cumulative equity, the worst drawdown and its days, sums, runtime totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from torghut_sim.report.period.days import DayReportView, DaySource
from torghut_sim.report.period.equity import equity_curve, worst_drawdown
from torghut_sim.report.period.runtime_totals import flatten_figures, runtime_totals
from torghut_sim.report.period.totals import by_symbol, totals
from unit.period_builders import report_document, template_document

D = Decimal


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return template_document(tmp_path_factory.mktemp("template"))


def test_equity_curve_adds_reported_days_and_carries_over_gaps() -> None:
    points = equity_curve(
        [("d1", D("100")), ("d2", D("-150")), ("d3", None), ("d4", D("-30.5")), ("d5", D("200"))]
    )
    assert [(p.cumulative, p.drawdown) for p in points] == [
        (D("100"), D("0")),
        (D("-50"), D("150")),
        (D("-50"), D("150")),
        (D("-80.5"), D("180.5")),
        (D("119.5"), D("0")),
    ]


def test_worst_drawdown_names_its_peak_trough_recovery_and_days() -> None:
    points = equity_curve(
        [
            ("d1", D("100")),
            ("d2", D("-150")),
            ("d3", None),
            ("d4", D("-30.5")),
            ("d5", D("80")),
            ("d6", D("200")),
        ]
    )
    dd = worst_drawdown(points)
    assert dd.max_drawdown == D("180.5")
    assert (dd.peak_day, dd.peak_equity) == ("d1", D("100"))
    assert (dd.trough_day, dd.trough_equity) == ("d4", D("-80.5"))
    # d5 brings equity to -0.5, still below the peak of 100; d6 (199.5) is the recovery.
    assert dd.recovered_day == "d6"
    # The day without a report is not a driver; the drivers' nets sum to minus the drawdown.
    assert [(d.trading_day, d.net) for d in dd.days] == [("d2", D("-150")), ("d4", D("-30.5"))]
    assert sum(d.net for d in dd.days) == -dd.max_drawdown


def test_a_drawdown_from_the_start_has_no_peak_day_and_may_not_recover() -> None:
    dd = worst_drawdown(equity_curve([("d1", D("-2")), ("d2", D("1")), ("d3", D("-4"))]))
    # Equity -2, -1, -5 under a peak of 0 (the start of the range).
    assert (dd.max_drawdown, dd.peak_day, dd.peak_equity) == (D("5"), None, D("0"))
    assert (dd.trough_day, dd.trough_equity, dd.recovered_day) == ("d3", D("-5"), None)
    assert [d.trading_day for d in dd.days] == ["d1", "d2", "d3"]


def test_ties_keep_the_latest_peak_and_the_earliest_trough() -> None:
    # Equity 5, 5 (flat), 2, 5, 2: the peak is the later 5 before each fall; the first fall of 3 wins.
    dd = worst_drawdown(equity_curve([("a", D(5)), ("b", D(0)), ("c", D(-3)), ("d", D(3)), ("e", D(-3))]))
    assert (dd.max_drawdown, dd.peak_day, dd.trough_day, dd.recovered_day) == (D(3), "b", "c", "d")
    assert [d.trading_day for d in dd.days] == ["c"]


def test_no_loss_means_no_drawdown() -> None:
    dd = worst_drawdown(equity_curve([("a", D(1)), ("b", None), ("c", D(0))]))
    assert (dd.max_drawdown, dd.peak_day, dd.trough_day, dd.days) == (D(0), None, None, [])


def test_sums_keep_every_digit() -> None:
    # 32 significant digits: the default decimal context (28) would round this sum.
    big = D("12345678.123456789012345678901234")
    points = equity_curve([("a", big), ("b", big)])
    assert points[-1].cumulative == D("24691356.246913578024691357802468")


def _source(template: dict[str, Any], day: date, **kwargs: Any) -> DaySource:
    doc = report_document(template, day, **kwargs)
    view = DayReportView.model_validate(doc)
    return DaySource(
        day,
        doc["run_metadata"]["run_id"],
        doc["run_metadata"]["run_token"],
        "reported",
        None,
        view,
        None,
        None,
    )


def _missing(day: date) -> DaySource:
    return DaySource(day, "sim-x", "sim_x", "failed", "replay: replay_failed", None, None, None)


def test_totals_and_symbols_over_reported_days(template: dict[str, Any]) -> None:
    days = [
        _source(template, date(2026, 2, 13), symbols={"NVDA": (4, "60", "50", "10")}),
        _source(
            template,
            date(2026, 2, 17),
            symbols={"NVDA": (2, "-40", "0", "10"), "AMD": (4, "-90", "-5", "5")},
            verdict="WARN",
            decisions=7,
            executions=5,
        ),
        _missing(date(2026, 2, 18)),
        _source(template, date(2026, 2, 19), symbols={"AMD": (2, "-30", "0", "0.5")}, verdict="FAIL"),
        _source(
            template, date(2026, 2, 23), symbols={"NVDA": (1, "120", "0", "0"), "AMD": (0, "0", "0", "0")}
        ),
    ]
    result = totals(days)
    assert (result.days_listed, result.days_reported) == (5, 4)
    assert result.status_counts["reported"] == 4 and result.status_counts["failed"] == 1
    assert result.verdict_counts == {"PASS": 2, "WARN": 1, "FAIL": 1}
    # Nets: 100, -150, -30.5, 120.
    assert (result.net, result.realized, result.unrealized) == (D("39.5"), D("20"), D("45"))
    assert (result.costs, result.gross, result.turnover) == (D("25.5"), D("65"), D("1300"))
    assert (result.profitable_days, result.losing_days, result.flat_days) == (2, 2, 0)
    assert (result.best_day, result.best_day_net) == ("2026-02-23", D("120"))
    assert (result.worst_day, result.worst_day_net) == ("2026-02-17", D("-150"))
    assert (result.fills, result.decisions, result.executions) == (13, 37, 29)
    # Closing fills n // 2 per symbol: 2 + 1 + 2 + 1 + 0 + 0; wins n // 4: 1 + 0 + 1 + 0.
    assert (result.closing_fills, result.wins, result.losses, result.win_rate) == (6, 2, 4, 0.333333)

    symbols = {s.symbol: s for s in by_symbol(days)}
    assert list(symbols) == ["AMD", "NVDA"]
    nvda, amd = symbols["NVDA"], symbols["AMD"]
    assert (nvda.net, nvda.realized, nvda.costs, nvda.days_traded, nvda.fills) == (
        D("170"),
        D("140"),
        D("20"),
        3,
        7,
    )
    # AMD: -100 and -30.5; the day with no AMD fill is not a day traded.
    assert (amd.net, amd.unrealized, amd.days_traded, amd.fills) == (D("-130.5"), D("-5"), 2, 6)
    assert nvda.net + amd.net == result.net


def test_no_reported_day_gives_zero_totals() -> None:
    result = totals([_missing(date(2026, 2, 18))])
    assert (result.net, result.best_day, result.win_rate, result.days_reported) == (D(0), None, None, 0)


def test_runtime_figures_flatten_by_path() -> None:
    section = {
        "available": True,
        "restarted": False,
        "decisions_total": 12,
        "reject_rate": 0.25,
        "decision_state": {"planned": 3, "rejected": 1},
        "suppressions": [{"strategy_id": "s1", "reason": "cooldown", "count": 2}],
        "note": "text is not a figure",
    }
    assert flatten_figures(section) == {
        "available": 1,
        "restarted": 0,
        "decisions_total": 12,
        "decision_state.planned": 3,
        "decision_state.rejected": 1,
        "suppressions[reason=cooldown,strategy_id=s1].count": 2,
    }


def test_runtime_totals_sum_counts_keep_max_levels_and_list_days_without() -> None:
    result = runtime_totals(
        [
            ("d1", {"decisions_total": 5, "no_signal_streak": 4, "restarted": True, "by": {"x": 1}}),
            ("d2", None),
            ("d3", {"decisions_total": 7, "no_signal_streak": 2, "restarted": False, "by": {"y": 2}}),
            ("d4", {"available": False, "decisions_total": 0}),
            ("d5", {"status": "unavailable", "decisions_total": 0}),
        ]
    )
    assert result.days_with_metrics == 2
    assert result.days_without_metrics == ["d2", "d4", "d5"]
    assert result.totals == {
        "by.x": 1,
        "by.y": 2,
        "decisions_total": 12,
        "no_signal_streak": 4,
        "restarted": 1,
    }


def test_day_report_view_tolerates_sections_it_does_not_know(template: dict[str, Any]) -> None:
    doc = report_document(template, date(2026, 2, 13), symbols={"NVDA": (1, "1", "0", "0")})
    doc["latency_buckets"] = {"anything": [1, 2]}
    doc["runtime_metrics"] = {"decisions_total": 3}
    view = DayReportView.model_validate(doc)
    assert view.runtime_metrics == {"decisions_total": 3}
    assert view.pnl.net == D("1")


def test_day_report_view_reads_exact_text_decimals(tmp_path: Path, template: dict[str, Any]) -> None:
    doc = report_document(
        template, date(2026, 2, 13), symbols={"NVDA": (1, "0.1000000000000000000000001", "0", "0")}
    )
    view = DayReportView.model_validate(doc)
    assert view.pnl.by_symbol[0].realized == D("0.1000000000000000000000001")


def test_runtime_totals_of_the_day_report_section_shape() -> None:
    """The per-day `runtime_metrics` section as the report writes it: counters, reason counts, lists."""

    def day(decisions: int, rejected: int, restarted: bool, streak: float) -> dict[str, Any]:
        return {
            "status": "ok",
            "reason": None,
            "process_restarted": restarted,
            "restarted_samples": ["torghut_trading_decisions_total"] if restarted else [],
            "decisions": decisions,
            "decisions_by_state": {"planned": decisions, "rejected": rejected},
            "reject_reasons": {
                "total": rejected,
                "by_reason": {"kill_switch_enabled": rejected},
                "by_group": {},
            },
            "suppression_reasons": [
                {"strategy_id": "s1", "reason": "cooldown:5", "group": "cooldown", "count": 2}
            ],
            "no_signal_streak": streak,
            "continuity_alert_active": False,
            "runtime_loop_failures": 1,
        }

    result = runtime_totals(
        [("d1", day(10, 2, restarted=True, streak=3.0)), ("d2", day(5, 1, restarted=False, streak=9.0))]
    )
    assert result.days_with_metrics == 2
    assert result.totals == {
        "continuity_alert_active": 0,
        "decisions": 15,
        "decisions_by_state.planned": 15,
        "decisions_by_state.rejected": 3,
        "process_restarted": 1,
        "reject_reasons.by_reason.kill_switch_enabled": 3,
        "reject_reasons.total": 3,
        "runtime_loop_failures": 2,
        "suppression_reasons[group=cooldown,reason=cooldown:5,strategy_id=s1].count": 4,
    }
