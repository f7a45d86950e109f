"""Sums over the reported days: the range's P&L and activity, counts by status and verdict, P&L by symbol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from torghut_sim.report.figures import WIDE, rate
from torghut_sim.report.period.days import DaySource, PnlView, SymbolView
from torghut_sim.report.period.model import DAY_STATUSES, PeriodSymbol, PeriodTotals

ZERO = Decimal(0)


def _add(a: Decimal, b: Decimal) -> Decimal:
    # The default context keeps 28 digits; money at scale 20 and above needs every digit kept.
    return WIDE.add(a, b)


@dataclass
class _Sum:
    """Running sums of one P&L row shape (a day's totals or one symbol's)."""

    realized: Decimal = ZERO
    unrealized: Decimal = ZERO
    gross: Decimal = ZERO
    costs: Decimal = ZERO
    net: Decimal = ZERO
    turnover: Decimal = ZERO
    fills: int = 0
    closing_fills: int = 0
    wins: int = 0
    losses: int = 0
    days: set[str] = field(default_factory=set)

    def add(self, row: PnlView | SymbolView, day: str) -> None:
        self.realized = _add(self.realized, row.realized)
        self.unrealized = _add(self.unrealized, row.unrealized)
        self.gross = _add(self.gross, row.gross)
        self.costs = _add(self.costs, row.costs)
        self.net = _add(self.net, row.net)
        self.turnover = _add(self.turnover, row.turnover)
        self.fills += row.fills
        self.closing_fills += row.closing_fills
        self.wins += row.wins
        self.losses += row.losses
        if row.fills:
            self.days.add(day)


def by_symbol(days: Sequence[DaySource]) -> list[PeriodSymbol]:
    """Each symbol's P&L summed over the reported days, symbols sorted."""
    sums: dict[str, _Sum] = {}
    for source in days:
        if source.report is None:
            continue
        for row in source.report.pnl.by_symbol:
            sums.setdefault(row.symbol, _Sum()).add(row, source.day.isoformat())
    return [
        PeriodSymbol(
            symbol=symbol,
            days_traded=len(s.days),
            fills=s.fills,
            realized=s.realized,
            unrealized=s.unrealized,
            gross=s.gross,
            costs=s.costs,
            net=s.net,
            turnover=s.turnover,
            closing_fills=s.closing_fills,
            wins=s.wins,
            losses=s.losses,
        )
        for symbol, s in sorted(sums.items())
    ]


def totals(days: Sequence[DaySource]) -> PeriodTotals:
    """The range's totals; best and worst days are the first of equal nets."""
    total = _Sum()
    decisions = executions = 0
    status_counts = dict.fromkeys(DAY_STATUSES, 0)
    verdict_counts = {"PASS": 0, "WARN": 0, "FAIL": 0}
    best: tuple[str, Decimal] | None = None
    worst: tuple[str, Decimal] | None = None
    profitable = losing = flat = 0
    for source in days:
        status_counts[source.status] += 1
        report = source.report
        if report is None:
            continue
        day, net = source.day.isoformat(), report.pnl.net
        total.add(report.pnl, day)
        decisions += report.funnel.decisions
        executions += report.funnel.executions
        verdict_counts[report.verdict.status] += 1
        if best is None or net > best[1]:
            best = (day, net)
        if worst is None or net < worst[1]:
            worst = (day, net)
        if net > 0:
            profitable += 1
        elif net < 0:
            losing += 1
        else:
            flat += 1
    return PeriodTotals(
        days_listed=len(days),
        days_reported=status_counts["reported"],
        status_counts=status_counts,
        verdict_counts=verdict_counts,
        profitable_days=profitable,
        losing_days=losing,
        flat_days=flat,
        realized=total.realized,
        unrealized=total.unrealized,
        gross=total.gross,
        costs=total.costs,
        net=total.net,
        turnover=total.turnover,
        fills=total.fills,
        decisions=decisions,
        executions=executions,
        closing_fills=total.closing_fills,
        wins=total.wins,
        losses=total.losses,
        win_rate=rate(total.wins, total.closing_fills),
        best_day=best[0] if best else None,
        best_day_net=best[1] if best else None,
        worst_day=worst[0] if worst else None,
        worst_day_net=worst[1] if worst else None,
    )
