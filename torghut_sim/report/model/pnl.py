"""The P&L section: FIFO P&L per symbol with costs, and the TCA shortfall proxy."""

from __future__ import annotations

from torghut_sim.report.model.base import ExactDecimal, MarkSource, Section


class SymbolPnl(Section):
    """P&L contribution, activity and exposure of one symbol."""

    symbol: str
    fills: int
    bought_qty: ExactDecimal
    sold_qty: ExactDecimal
    turnover: ExactDecimal
    realized: ExactDecimal
    unrealized: ExactDecimal
    gross: ExactDecimal
    costs: ExactDecimal
    net: ExactDecimal
    open_qty: ExactDecimal
    mark_price: ExactDecimal | None
    mark_source: MarkSource
    max_abs_exposure: ExactDecimal
    closing_fills: int
    wins: int
    losses: int


class TcaProxy(Section):
    """Implementation shortfall from the runtime's own TCA rows: a proxy, not mark-to-market."""

    rows: int
    shortfall_notional: ExactDecimal
    realized_pnl_proxy_notional: ExactDecimal


class Pnl(Section):
    """FIFO trade P&L with explicit costs, the intraday equity curve summary and the TCA proxy."""

    fills: int
    skipped_zero_quantity: int
    skipped_missing_price: int
    skipped_unknown_side: int
    realized: ExactDecimal
    unrealized: ExactDecimal
    gross: ExactDecimal
    commission: ExactDecimal
    fees: ExactDecimal
    costs: ExactDecimal
    net: ExactDecimal
    turnover: ExactDecimal
    closing_fills: int
    wins: int
    losses: int
    win_rate: float | None
    average_win: ExactDecimal | None
    average_loss: ExactDecimal | None
    max_drawdown: ExactDecimal
    max_drawdown_at: str | None
    peak_gross_exposure: ExactDecimal
    equity_curve_points: int
    by_symbol: list[SymbolPnl]
    tca_proxy: TcaProxy
