"""PNG charts of the report (equity and drawdown, funnel, latency, P&L by symbol), rendered headless.

Figures are built on the Agg canvas directly (no pyplot global state) and saved without the
`Software` metadata, so identical inputs give identical bytes on one matplotlib version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from torghut_sim.report.model import Funnel, Pnl

EQUITY = "equity-curve.png"
FUNNEL = "funnel.png"
LATENCY = "latency.png"
PNL_BY_SYMBOL = "pnl-by-symbol.png"
_DPI = 100


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def _empty(axes: object, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)  # type: ignore[attr-defined]


def equity_chart(curve: pl.DataFrame, path: Path) -> Path:
    """Net equity per minute above its drawdown from the running peak."""
    figure = Figure(figsize=(10, 5.5))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    if curve.height:
        x = curve["minute"].dt.replace_time_zone(None).to_numpy()
        equity = curve["equity_net"].cast(pl.Float64).to_numpy()
        drawdown = -curve["drawdown"].cast(pl.Float64).to_numpy()
        top.plot(x, equity, color="tab:blue", linewidth=1.2, label="net equity")
        top.axhline(0, color="grey", linewidth=0.6)
        bottom.fill_between(x, drawdown, 0, color="tab:red", alpha=0.4, step="post")
        figure.autofmt_xdate()
    else:
        _empty(top, "no fills")
    top.set_title("Intraday equity (realized + mark-to-market − costs)")
    top.set_ylabel("equity")
    bottom.set_ylabel("drawdown")
    bottom.set_xlabel("minute (UTC)")
    figure.tight_layout()
    return _save(figure, path)


def funnel_chart(funnel: Funnel, path: Path) -> Path:
    """Counts at each stage of the trading funnel."""
    stages = [
        ("decisions", funnel.decisions),
        ("executions", funnel.executions),
        ("filled", funnel.filled_executions),
        ("order events", funnel.order_events),
        ("TCA rows", funnel.tca_rows),
        ("LLM reviews", funnel.llm_reviews),
    ]
    figure = Figure(figsize=(8, 4))
    axes = figure.subplots()
    labels = [s for s, _ in stages][::-1]
    values = [v for _, v in stages][::-1]
    bars = axes.barh(labels, values, color="tab:green")
    axes.bar_label(bars, labels=[str(v) for v in values], padding=3)
    axes.set_title("Signal → decision → execution funnel")
    axes.set_xlabel("count")
    figure.tight_layout()
    return _save(figure, path)


def latency_chart(series: dict[str, pl.Series], path: Path) -> Path:
    """Histograms of each latency in milliseconds."""
    figure = Figure(figsize=(10, 3.5))
    panels = figure.subplots(1, len(series))
    for axes, (name, values) in zip(np.atleast_1d(panels), series.items(), strict=True):
        data = values.drop_nulls().cast(pl.Float64).to_numpy()
        if len(data):
            axes.hist(data, bins=50, color="tab:purple")
        else:
            _empty(axes, "no samples")
        axes.set_title(name)
        axes.set_xlabel("ms")
    figure.tight_layout()
    return _save(figure, path)


def pnl_by_symbol_chart(pnl: Pnl, path: Path) -> Path:
    """Realized and unrealized P&L of each symbol."""
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots()
    symbols = [s.symbol for s in pnl.by_symbol]
    if symbols:
        x = np.arange(len(symbols))
        axes.bar(x - 0.2, [float(s.realized) for s in pnl.by_symbol], 0.4, label="realized")
        axes.bar(x + 0.2, [float(s.unrealized) for s in pnl.by_symbol], 0.4, label="unrealized")
        axes.set_xticks(x, symbols, rotation=45, ha="right")
        axes.axhline(0, color="grey", linewidth=0.6)
        axes.legend()
    else:
        _empty(axes, "no fills")
    axes.set_title("P&L by symbol (FIFO)")
    figure.tight_layout()
    return _save(figure, path)
