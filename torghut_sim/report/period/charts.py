"""SVG charts of the period: cumulative equity with its drawdown, net P&L by day, P&L by symbol.

Drawn with the per-day charts' layouts. Days are evenly spaced (trading days, not calendar time), and a
day without a report is shaded grey so a gap in the evidence is never mistaken for a flat day.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torghut_sim.report.charts import equity_panels, grouped_bars
from torghut_sim.report.period.model import PeriodDay, PeriodSymbol
from torghut_sim.report.svg import (
    BLUE,
    GREEN,
    LIGHT_GREY,
    ORANGE,
    RED,
    Chart,
    Panel,
    left_margin,
    value_ticks,
)

EQUITY = "period-equity.svg"
DAILY_PNL = "period-daily-pnl.svg"
PNL_BY_SYMBOL = "period-pnl-by-symbol.svg"
_WIDTH = 1000
_MAX_TICKS = 25


def _day_axis(panel: Panel, days: Sequence[PeriodDay]) -> None:
    """Date labels under evenly spaced days, thinned to at most `_MAX_TICKS`, slanted."""
    step = max(1, -(-len(days) // _MAX_TICKS))
    ticks = list(range(0, len(days), step))
    panel.x_labels(ticks, [days[i].trading_day for i in ticks], rotate=True)


def _shade_missing(panel: Panel, days: Sequence[PeriodDay]) -> None:
    for i, day in enumerate(days):
        if day.status != "reported":
            panel.span(i - 0.5, i + 0.5, LIGHT_GREY)


def _domain(days: Sequence[PeriodDay]) -> tuple[float, float]:
    return -0.5, max(len(days), 1) - 0.5


def equity_chart(days: Sequence[PeriodDay], path: Path) -> Path:
    """Cumulative net equity after each day above its drawdown from the running peak."""
    chart = Chart(_WIDTH, 560)
    x = list(range(len(days)))
    equity = [float(d.cumulative_net) for d in days]
    drawdown = [float(d.drawdown) for d in days]
    top, bottom = equity_panels(
        chart, _domain(days), equity, drawdown, ("Cumulative net equity across days (grey: no report)", "")
    )
    for panel in (top, bottom):
        _shade_missing(panel, days)
    top.line(x, equity, BLUE, markers=True)
    bottom.bars(x, [-d for d in drawdown], 0.8, RED)
    _day_axis(bottom, days)
    return chart.save(path)


def daily_pnl_chart(days: Sequence[PeriodDay], path: Path) -> Path:
    """Net P&L of each day, green for gains and red for losses; days without a report shaded."""
    chart = Chart(_WIDTH, 440)
    nets = [float(d.net) if d.net is not None else 0.0 for d in days]
    ticks = value_ticks(nets)
    left = left_margin(ticks)
    panel = chart.panel((left, 36, _WIDTH - left - 20, 300), _domain(days), ticks)
    panel.frame("Net P&L by day", "net")
    _shade_missing(panel, days)
    panel.bars(range(len(days)), nets, 0.8, [GREEN if v >= 0 else RED for v in nets])
    panel.zero_line()
    _day_axis(panel, days)
    return chart.save(path)


def symbol_chart(symbols: Sequence[PeriodSymbol], path: Path) -> Path:
    """Realized, unrealized and net P&L of each symbol over the range."""
    return grouped_bars(
        path,
        "P&L by symbol over the range",
        [s.symbol for s in symbols],
        [
            ("realized", BLUE, [float(s.realized) for s in symbols]),
            ("unrealized", ORANGE, [float(s.unrealized) for s in symbols]),
            ("net", GREEN, [float(s.net) for s in symbols]),
        ],
    )
