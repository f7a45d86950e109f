"""The period's tables for CSV and Parquet (the catalog's `period_*` views): days, symbols, symbol-days."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from operator import attrgetter
from typing import Any

import polars as pl

from torghut_sim.report.figures import MONEY_SCALE, WIDE
from torghut_sim.report.period.days import DaySource
from torghut_sim.report.period.model import SimulationPeriodReport

# Money at scale 20 (finer costs rounded half-even), like the per-day summary row the catalog reads.
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_MONEY = pl.Decimal(38, MONEY_SCALE)


def _money(values: Sequence[Decimal | None]) -> pl.Series:
    exact = [
        None if v is None else v.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=WIDE) for v in values
    ]
    return pl.Series(exact, dtype=_MONEY)


def _frame(rows: Sequence[Any], columns: dict[str, tuple[Callable[[Any], Any], Any]]) -> pl.DataFrame:
    """A frame with one column per (getter, dtype); dtype `money` builds an exact decimal column."""
    series: list[pl.Series] = []
    for name, (get, dtype) in columns.items():
        values = [get(row) for row in rows]
        column = _money(values) if dtype == "money" else pl.Series(values, dtype=dtype)
        series.append(column.alias(name))
    return pl.DataFrame(series)


def _pnl_columns(of: Callable[[Any], Any] = lambda row: row) -> dict[str, tuple[Callable[[Any], Any], Any]]:
    """The money columns realized … turnover, read from the P&L figures `of(row)`."""

    def column(name: str) -> tuple[Callable[[Any], Any], Any]:
        get = attrgetter(name)
        return (lambda row: get(of(row)), "money")

    return {name: column(name) for name in ("realized", "unrealized", "gross", "costs", "net", "turnover")}


def days_table(report: SimulationPeriodReport) -> pl.DataFrame:
    """One row per listed day: status, verdict, P&L, cumulative equity and drawdown."""
    period_id = report.period.period_id
    return _frame(
        report.days,
        {
            "period_id": (lambda _: period_id, pl.String),
            "trading_day": (lambda d: date.fromisoformat(d.trading_day), pl.Date),
            "run_id": (lambda d: d.run_id, pl.String),
            "run_token": (lambda d: d.run_token, pl.String),
            "status": (lambda d: d.status, pl.String),
            "detail": (lambda d: d.detail, pl.String),
            "verdict": (lambda d: d.verdict, pl.String),
            "verdict_reasons": (lambda d: ",".join(r.code for r in d.verdict_reasons), pl.String),
            **_pnl_columns(),
            "fills": (lambda d: d.fills, pl.Int64),
            "decisions": (lambda d: d.decisions, pl.Int64),
            "executions": (lambda d: d.executions, pl.Int64),
            "intraday_max_drawdown": (lambda d: d.intraday_max_drawdown, "money"),
            "cumulative_net": (lambda d: d.cumulative_net, "money"),
            "drawdown": (lambda d: d.drawdown, "money"),
            "runtime_metrics": (lambda d: d.runtime_metrics, pl.Boolean),
        },
    )


def symbols_table(report: SimulationPeriodReport) -> pl.DataFrame:
    """One row per symbol: P&L and activity over the reported days."""
    period_id = report.period.period_id
    return _frame(
        report.by_symbol,
        {
            "period_id": (lambda _: period_id, pl.String),
            "symbol": (lambda s: s.symbol, pl.String),
            "days_traded": (lambda s: s.days_traded, pl.Int64),
            "fills": (lambda s: s.fills, pl.Int64),
            **_pnl_columns(),
            "closing_fills": (lambda s: s.closing_fills, pl.Int64),
            "wins": (lambda s: s.wins, pl.Int64),
            "losses": (lambda s: s.losses, pl.Int64),
        },
    )


def symbol_days_table(period_id: str, days: Sequence[DaySource]) -> pl.DataFrame:
    """One row per reported day and symbol: that day's P&L of the symbol."""
    rows = [
        (source.day, row)
        for source in days
        if source.report is not None
        for row in source.report.pnl.by_symbol
    ]
    return _frame(
        rows,
        {
            "period_id": (lambda _: period_id, pl.String),
            "trading_day": (lambda r: r[0], pl.Date),
            "symbol": (lambda r: r[1].symbol, pl.String),
            "fills": (lambda r: r[1].fills, pl.Int64),
            **_pnl_columns(lambda r: r[1]),
        },
    )
