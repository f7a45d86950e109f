"""SVG charts of the report (equity and drawdown, funnel, latency, P&L by symbol), drawn by `svg`.

The layouts shared with the period report (equity over drawdown, grouped bars per category) live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from torghut_sim.report.model import Funnel, Pnl
from torghut_sim.report.svg import (
    BLUE,
    GREEN,
    ORANGE,
    PURPLE,
    RED,
    Chart,
    Panel,
    label_width,
    left_margin,
    value_ticks,
)

EQUITY = "equity-curve.svg"
FUNNEL = "funnel.svg"
LATENCY = "latency.svg"
PNL_BY_SYMBOL = "pnl-by-symbol.svg"
_WIDTH = 1000
_RIGHT = 20
_BINS = 50


def equity_panels(
    chart: Chart,
    x_domain: tuple[float, float],
    equity: Sequence[float],
    drawdown: Sequence[float],
    titles: tuple[str, str],
) -> tuple[Panel, Panel]:
    """Equity (top, three quarters of the height) above its drawdown drawn downwards (bottom)."""
    top_ticks, bottom_ticks = value_ticks(equity), value_ticks([-d for d in drawdown])
    left = max(left_margin(top_ticks), left_margin(bottom_ticks))
    width = chart.width - left - _RIGHT
    top = chart.panel((left, 36, width, 300), x_domain, top_ticks)
    bottom = chart.panel((left, 360, width, 100), x_domain, bottom_ticks)
    top.frame(titles[0], "equity")
    bottom.frame(titles[1], "drawdown")
    top.zero_line()
    return top, bottom


def _slanted(labels: Sequence[str], width: float) -> bool:
    """Whether category labels must be written at 45° to stay clear of each other."""
    return label_width(labels) > width / max(len(labels), 1) - 8


def category_labels(panel: Panel, labels: Sequence[str]) -> None:
    """Category names under evenly spaced positions 0, 1, …; slanted when they would collide."""
    panel.x_labels(range(len(labels)), labels, rotate=_slanted(labels, panel.width))


def grouped_bars(
    path: Path, title: str, categories: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]]
) -> Path:
    """One group of bars per category, one bar per (label, colour, values) series, with a legend."""
    ticks = value_ticks([v for _, _, values in series for v in values])
    left = left_margin(ticks)
    slant = _slanted(categories, _WIDTH - left - _RIGHT)
    chart = Chart(_WIDTH, int(370 + (label_width(categories) * 0.71 if slant else 0)))
    panel = chart.panel((left, 36, _WIDTH - left - _RIGHT, 300), (-0.5, max(len(categories), 1) - 0.5), ticks)
    panel.frame(title)
    if not categories:
        panel.message("no fills")
        return chart.save(path)
    width = 0.8 / len(series)
    for k, (_, color, values) in enumerate(series):
        offset = (k - (len(series) - 1) / 2) * width
        panel.bars([i + offset for i in range(len(categories))], values, width, color)
    panel.zero_line()
    category_labels(panel, categories)
    panel.legend([(label, color) for label, color, _ in series])
    return chart.save(path)


def _clock(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def equity_chart(curve: pl.DataFrame, path: Path) -> Path:
    """Net equity per minute above its drawdown from the running peak."""
    chart = Chart(_WIDTH, 510)
    minutes = (curve["minute"].dt.epoch("us") // 60_000_000).to_list() if curve.height else []
    equity = curve["equity_net"].cast(pl.Float64).to_list() if curve.height else []
    drawdown = curve["drawdown"].cast(pl.Float64).to_list() if curve.height else []
    domain = (float(minutes[0]), float(max(minutes[-1], minutes[0] + 1))) if minutes else (0.0, 1.0)
    top, bottom = equity_panels(
        chart, domain, equity, drawdown, ("Intraday equity (realized + mark-to-market − costs)", "")
    )
    if minutes:
        top.line(minutes, equity, BLUE)
        bottom.step_area(minutes, [-d for d in drawdown], RED)
        span = minutes[-1] - minutes[0]
        every = next((h for h in (60, 120, 240, 360, 720, 1440) if span // h <= 12), 10_080)
        hours = [m for m in range(minutes[0], minutes[-1] + 1) if m % every == 0]
        bottom.x_labels(hours, [_clock(m) for m in hours])
    else:
        top.message("no fills")
    bottom.x_title("minute (UTC)")
    return chart.save(path)


def funnel_chart(funnel: Funnel, path: Path) -> Path:
    """Counts at each stage of the trading funnel, each bar labelled with its count."""
    stages = [
        ("decisions", funnel.decisions),
        ("executions", funnel.executions),
        ("filled", funnel.filled_executions),
        ("order events", funnel.order_events),
        ("TCA rows", funnel.tca_rows),
        ("LLM reviews", funnel.llm_reviews),
    ]
    values = [float(v) for _, v in stages]
    chart = Chart(800, 400)
    ticks = value_ticks([v * 1.08 for v in values])
    left = left_margin(ticks)
    panel = chart.panel((left, 36, 800 - left - _RIGHT, 310), (-0.5, len(stages) - 0.5), ticks)
    panel.frame("Signal → decision → execution funnel", "count")
    panel.bars(range(len(stages)), values, 0.6, GREEN)
    for i, (_, count) in enumerate(stages):
        panel.text(panel.sx(i), panel.sy(count) - 4, str(count))
    category_labels(panel, [name for name, _ in stages])
    return chart.save(path)


def latency_chart(series: dict[str, pl.Series], path: Path) -> Path:
    """Histograms of each latency in milliseconds, one panel each."""
    chart = Chart(_WIDTH, 380)
    slot = _WIDTH / max(len(series), 1)
    for k, (name, values) in enumerate(series.items()):
        data = values.drop_nulls().cast(pl.Float64).to_numpy()
        counts, edges = np.histogram(data, bins=_BINS) if len(data) else (np.zeros(0), np.zeros(0))
        ticks = value_ticks([float(c) for c in counts])
        left = left_margin(ticks)
        domain = (float(edges[0]), float(edges[-1])) if len(data) else (0.0, 1.0)
        panel = chart.panel((k * slot + left, 36, slot - left - _RIGHT, 280), domain, ticks)
        panel.frame(name, "samples" if k == 0 else None)
        if len(data):
            centres = ((edges[:-1] + edges[1:]) / 2).tolist()
            panel.bars(centres, counts.astype(float).tolist(), float(edges[1] - edges[0]), PURPLE)
            panel.x_numeric(count=4)
        else:
            panel.message("no samples")
        panel.x_title("ms")
    return chart.save(path)


def pnl_by_symbol_chart(pnl: Pnl, path: Path) -> Path:
    """Realized and unrealized P&L of each symbol."""
    return grouped_bars(
        path,
        "P&L by symbol (FIFO)",
        [s.symbol for s in pnl.by_symbol],
        [
            ("realized", BLUE, [float(s.realized) for s in pnl.by_symbol]),
            ("unrealized", ORANGE, [float(s.unrealized) for s in pnl.by_symbol]),
        ],
    )
