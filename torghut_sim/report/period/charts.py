"""PNG charts of the period: cumulative equity with its drawdown, net P&L by day, P&L by symbol.

Built like the per-day charts: on the Agg canvas directly, saved without the `Software` metadata, so
identical inputs give identical bytes. Days are evenly spaced (trading days, not calendar time), and a
day without a report is shaded grey so a gap in the evidence is never mistaken for a flat day.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from torghut_sim.report.period.model import PeriodDay, PeriodSymbol

EQUITY = "period-equity.png"
DAILY_PNL = "period-daily-pnl.png"
PNL_BY_SYMBOL = "period-pnl-by-symbol.png"
_DPI = 100
_MAX_TICKS = 25


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def _day_axis(axes: Axes, days: Sequence[PeriodDay]) -> None:
    """Date labels under evenly spaced days, thinned to at most `_MAX_TICKS`."""
    step = max(1, -(-len(days) // _MAX_TICKS))
    ticks = list(range(0, len(days), step))
    axes.set_xticks(ticks, [days[i].trading_day for i in ticks], rotation=45, ha="right")


def _shade_missing(axes: Axes, days: Sequence[PeriodDay]) -> None:
    for i, day in enumerate(days):
        if day.status != "reported":
            axes.axvspan(i - 0.5, i + 0.5, color="lightgrey", alpha=0.6, linewidth=0)


def equity_chart(days: Sequence[PeriodDay], path: Path) -> Path:
    """Cumulative net equity after each day above its drawdown from the running peak."""
    figure = Figure(figsize=(10, 5.5))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    x = np.arange(len(days))
    equity = [float(d.cumulative_net) for d in days]
    drawdown = [-float(d.drawdown) for d in days]
    for axes in (top, bottom):
        _shade_missing(axes, days)
    top.plot(x, equity, color="tab:blue", linewidth=1.2, marker="o", markersize=3, label="cumulative net")
    top.axhline(0, color="grey", linewidth=0.6)
    bottom.bar(x, drawdown, color="tab:red", alpha=0.5)
    top.set_title("Cumulative net equity across days (grey: day without a report)")
    top.set_ylabel("equity")
    bottom.set_ylabel("drawdown")
    _day_axis(bottom, days)
    figure.tight_layout()
    return _save(figure, path)


def daily_pnl_chart(days: Sequence[PeriodDay], path: Path) -> Path:
    """Net P&L of each day, green for gains and red for losses; days without a report shaded."""
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots()
    _shade_missing(axes, days)
    nets = [float(d.net) if d.net is not None else 0.0 for d in days]
    colors = ["tab:green" if v >= 0 else "tab:red" for v in nets]
    axes.bar(np.arange(len(days)), nets, color=colors)
    axes.axhline(0, color="grey", linewidth=0.6)
    axes.set_title("Net P&L by day")
    _day_axis(axes, days)
    figure.tight_layout()
    return _save(figure, path)


def symbol_chart(symbols: Sequence[PeriodSymbol], path: Path) -> Path:
    """Realized, unrealized and net P&L of each symbol over the range."""
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots()
    if symbols:
        x = np.arange(len(symbols))
        axes.bar(x - 0.27, [float(s.realized) for s in symbols], 0.27, label="realized")
        axes.bar(x, [float(s.unrealized) for s in symbols], 0.27, label="unrealized")
        axes.bar(x + 0.27, [float(s.net) for s in symbols], 0.27, label="net")
        axes.set_xticks(x, [s.symbol for s in symbols], rotation=45, ha="right")
        axes.axhline(0, color="grey", linewidth=0.6)
        axes.legend()
    else:
        axes.text(0.5, 0.5, "no fills", ha="center", va="center", transform=axes.transAxes)
    axes.set_title("P&L by symbol over the range")
    figure.tight_layout()
    return _save(figure, path)
