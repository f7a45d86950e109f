"""The SVG charts: hand-checked axis ticks, and the day and period charts drawing what their data says."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from torghut_sim.report import build_report, charts
from torghut_sim.report.model import Pnl
from torghut_sim.report.period import charts as period_charts
from torghut_sim.report.period.model import PeriodDay
from torghut_sim.report.svg import BLUE, LIGHT_GREY, ORANGE, RED, nice_ticks, tick_label
from unit.report_builders import RunBuilder, at

SVG = "{http://www.w3.org/2000/svg}"


def _svg(path: Path) -> ET.Element:
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    assert root.tag == f"{SVG}svg"
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def _fills(root: ET.Element, tag: str, color: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if e.get("fill") == color]


@pytest.mark.parametrize(
    ("lo", "hi", "ticks"),
    [
        (0, 97, [0, 20, 40, 60, 80, 100]),  # 97/5 = 19.4 → step 20
        (-3.2, 7.9, [-5, -2.5, 0, 2.5, 5, 7.5, 10]),  # 11.1/5 = 2.22 → step 2.5
        (0, 0, [-1, -0.5, 0, 0.5, 1]),  # a flat series gets a unit band around it
        (100_000, 1_000_000, [0, 200_000, 400_000, 600_000, 800_000, 1_000_000]),
    ],
)
def test_ticks_are_round_and_cover_the_values(lo: float, hi: float, ticks: list[float]) -> None:
    assert nice_ticks(lo, hi) == pytest.approx(ticks)


def test_tick_labels_carry_the_steps_decimals_and_no_negative_zero() -> None:
    assert tick_label(2.5, 2.5) == "2.5"
    assert tick_label(0.30000000000000004, 0.1) == "0.3"
    assert tick_label(1_234_567.0, 1000) == "1,234,567"
    assert tick_label(-0.0, 0.5) == "0.0"
    assert tick_label(-1e-12, 1) == "0"


def _run(root: Path) -> Path:
    builder = RunBuilder(root)
    for i, (symbol, side, price) in enumerate(
        [("NVDA", "buy", "10"), ("AMD", "sell", "150"), ("NVDA", "sell", "13")]
    ):
        d = builder.decision(symbol, signal_ts=at(60 * i))
        e = builder.execution(d, side, "1", price, symbol=symbol, fill_ts=at(60 * i + 2))
        builder.order_event(e, d, at(60 * i + 1))
    builder.last_price("NVDA", "12")
    builder.last_price("AMD", "151")
    return builder.write()


def test_day_charts_draw_their_data(tmp_path: Path) -> None:
    result = build_report(_run(tmp_path / "run"), tmp_path / "out")
    out = tmp_path / "out" / "charts"
    pnl = _svg(out / "pnl-by-symbol.svg")
    # One realized and one unrealized bar per symbol, symbols labelled, and a legend.
    assert len(_fills(pnl, "rect", BLUE)) == 2 + 1  # two bars and the legend key
    assert len(_fills(pnl, "rect", ORANGE)) == 2 + 1
    assert {"AMD", "NVDA", "realized", "unrealized", "P&L by symbol (FIFO)"} <= set(_texts(pnl))
    equity = _svg(out / "equity-curve.svg")
    curve = equity.find(f"{SVG}polyline")
    assert curve is not None
    assert len(curve.get("points", "").split()) == result.report.pnl.equity_curve_points
    assert {"equity", "drawdown", "minute (UTC)", "15:00"} <= set(_texts(equity))
    funnel = _svg(out / "funnel.svg")
    assert {"decisions", "executions", "order events", "3"} <= set(_texts(funnel))
    latency = _svg(out / "latency.svg")
    assert {"signal → decision", "decision → submit", "submit → first event", "ms"} <= set(_texts(latency))


def test_empty_charts_say_so(tmp_path: Path) -> None:
    build_report(RunBuilder(tmp_path / "run").write(), tmp_path / "out")
    out = tmp_path / "out" / "charts"
    # The window's minutes are still drawn: a flat line at zero.
    curve = _svg(out / "equity-curve.svg").find(f"{SVG}polyline")
    assert curve is not None
    assert len({point.split(",")[1] for point in curve.get("points", "").split()}) == 1
    assert "no fills" in _texts(_svg(out / "pnl-by-symbol.svg"))
    assert _texts(_svg(out / "latency.svg")).count("no samples") == 3


def _day(day: str, status: str, net: str | None, cumulative: str, drawdown: str) -> PeriodDay:
    return PeriodDay.model_construct(
        trading_day=day,
        status=status,
        net=None if net is None else Decimal(net),
        cumulative_net=Decimal(cumulative),
        drawdown=Decimal(drawdown),
    )


def test_period_charts_shade_missing_days_and_colour_losses(tmp_path: Path) -> None:
    days = [
        _day("2026-03-02", "reported", "5", "5", "0"),
        _day("2026-03-03", "failed", None, "5", "0"),
        _day("2026-03-04", "reported", "-2", "3", "2"),
    ]
    equity = _svg(period_charts.equity_chart(days, tmp_path / "equity.svg"))
    # The failed day is shaded in both panels; each day has a point; the drawdown bar is red.
    assert len(_fills(equity, "rect", LIGHT_GREY)) == 2
    assert len(list(equity.iter(f"{SVG}circle"))) == 3
    assert len(_fills(equity, "rect", RED)) == 3
    assert {"2026-03-02", "2026-03-03", "2026-03-04"} <= set(_texts(equity))
    daily = _svg(period_charts.daily_pnl_chart(days, tmp_path / "daily.svg"))
    assert len(_fills(daily, "rect", RED)) == 1  # the one losing day
    assert len(_fills(daily, "rect", LIGHT_GREY)) == 1


def test_the_same_data_draws_the_same_bytes(tmp_path: Path) -> None:
    empty = Pnl.model_construct(by_symbol=[])
    a = charts.pnl_by_symbol_chart(empty, tmp_path / "a.svg").read_bytes()
    b = charts.pnl_by_symbol_chart(empty, tmp_path / "b.svg").read_bytes()
    assert a == b
