"""The cumulative equity curve across days and its worst drawdown, with the days that drove it.

Each day is simulated from flat, so the range's equity after a day is the sum of the reported days' net
P&L so far (a day without a report adds nothing). The drawdown is measured at day ends from the running
peak, which starts at 0 before the first day; ties keep the latest peak and the earliest trough, so the
days listed are exactly those whose net P&L sums to the drawdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from torghut_sim.report.figures import WIDE
from torghut_sim.report.period.model import DrawdownDay, PeriodDrawdown

ZERO = Decimal(0)


@dataclass(frozen=True)
class CurvePoint:
    """Equity after one listed day and its distance below the running peak."""

    day: str
    net: Decimal | None
    cumulative: Decimal
    drawdown: Decimal


def equity_curve(days: Sequence[tuple[str, Decimal | None]]) -> list[CurvePoint]:
    """Cumulative net equity and drawdown after each (day, net) in order; a None net adds nothing."""
    cumulative = peak = ZERO
    points: list[CurvePoint] = []
    for day, net in days:
        if net is not None:
            cumulative = WIDE.add(cumulative, net)
            peak = max(peak, cumulative)
        points.append(CurvePoint(day, net, cumulative, WIDE.subtract(peak, cumulative)))
    return points


def worst_drawdown(points: Sequence[CurvePoint]) -> PeriodDrawdown:
    """The largest drawdown of a curve: its peak and trough days, the recovery and the days between."""
    peak_index: int | None = None  # None: the start of the range, equity 0
    peak = ZERO
    worst = ZERO
    worst_peak: int | None = None
    trough: int | None = None
    for i, point in enumerate(points):
        if point.net is None:
            continue
        if point.cumulative >= peak:
            peak, peak_index = point.cumulative, i
        if point.drawdown > worst:
            worst, worst_peak, trough = point.drawdown, peak_index, i
    if trough is None:
        return PeriodDrawdown(
            max_drawdown=ZERO,
            peak_day=None,
            peak_equity=ZERO,
            trough_day=None,
            trough_equity=ZERO,
            recovered_day=None,
            days=[],
        )
    peak_equity = points[worst_peak].cumulative if worst_peak is not None else ZERO
    start = worst_peak + 1 if worst_peak is not None else 0
    recovered = next(
        (p.day for p in points[trough + 1 :] if p.net is not None and p.cumulative >= peak_equity), None
    )
    return PeriodDrawdown(
        max_drawdown=worst,
        peak_day=points[worst_peak].day if worst_peak is not None else None,
        peak_equity=peak_equity,
        trough_day=points[trough].day,
        trough_equity=points[trough].cumulative,
        recovered_day=recovered,
        days=[
            DrawdownDay(trading_day=p.day, net=p.net) for p in points[start : trough + 1] if p.net is not None
        ],
    )
