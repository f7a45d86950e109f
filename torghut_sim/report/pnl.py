"""The P&L section: FIFO P&L per symbol on exact scaled integers (`fifo`), costs, equity curve, TCA proxy.

Every quantity and price arrives as decimal128(38, 10); the matcher works on the physical integers
(value × 10¹⁰), so money is exact at scale 20 and costs exact at a scale wide enough for the
commission rate. Only the final figures become `Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl

from torghut_sim.report.arrays import decimal_array, decimal_column, frame_from_arrays
from torghut_sim.report.fifo import Book, Fills, Ledger, match_fills
from torghut_sim.report.figures import MONEY_SCALE, QTY_SCALE, WIDE, iso_utc, rate, scaled
from torghut_sim.report.model import MarkSource, Pnl, SymbolPnl, TcaProxy
from torghut_sim.report.settings import ReportSettings

_MINUTE_US = 60_000_000
# Beyond a week of minutes a per-minute curve is a symptom of bad timestamps, not a trading day.
_MAX_CURVE_MINUTES = 7 * 24 * 60
_AVERAGE_QUANTUM = Decimal("1e-10")


@dataclass(frozen=True)
class CostModel:
    """Commission in bps of notional plus a fee per fill, as exact integers at one scale."""

    scale: int
    bps_units: int  # commission_bps × 10^(scale − 24)
    fee_units: int  # per_trade_fee × 10^scale

    @classmethod
    def of(cls, commission_bps: Decimal, per_trade_fee: Decimal) -> CostModel:
        """The integer cost model of the manifest's decimal cost assumptions."""
        bps_exp = -int(commission_bps.normalize(WIDE).as_tuple().exponent)
        fee_exp = -int(per_trade_fee.normalize(WIDE).as_tuple().exponent)
        # notional (×10²⁰) · bps / 10⁴ needs scale 24 plus the digits of the rate.
        scale = max(MONEY_SCALE + 4 + max(bps_exp, 0), fee_exp, 0)
        bps_units = int(commission_bps.scaleb(scale - MONEY_SCALE - 4, WIDE))
        fee_units = int(per_trade_fee.scaleb(scale, WIDE))
        return cls(scale=scale, bps_units=bps_units, fee_units=fee_units)


@dataclass(frozen=True)
class PnlResult:
    """The section and the per-fill and per-minute tables behind it."""

    section: Pnl
    trades: pl.DataFrame
    equity_curve: pl.DataFrame


def _fills_frame(executions: pl.DataFrame) -> pl.DataFrame:
    side = pl.col("side").str.to_lowercase().str.strip_chars()
    qty = pl.col("filled_qty").to_physical()
    price = pl.col("avg_fill_price").to_physical()
    skip = (
        pl.when(qty.is_null() | (qty <= 0))
        .then(pl.lit("zero_quantity"))
        .when(price.is_null() | (price <= 0))
        .then(pl.lit("missing_price"))
        .when(~side.is_in(["buy", "sell"]).fill_null(value=False))
        .then(pl.lit("unknown_side"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    # Fill order: the time the order feed last reported the fill, else the last update, else submit.
    fill_ts = pl.coalesce("order_feed_last_event_ts", "last_update_at", "created_at")
    return executions.select(
        pl.col("id").alias("execution_id"),
        "trade_decision_id",
        pl.col("symbol").fill_null("unknown"),
        side.alias("side"),
        qty.alias("qty"),
        price.alias("price"),
        fill_ts.alias("fill_ts"),
        "created_at",
        skip.alias("skip"),
    ).sort("fill_ts", "created_at", "execution_id", nulls_last=True)


def _last_prices(last_prices: pl.DataFrame) -> dict[str, int]:
    rows = (
        last_prices.filter(pl.col("symbol").is_not_null() & (pl.col("last_price") > 0).fill_null(value=False))
        .sort("symbol", "last_event_ts", nulls_last=False)
        .group_by("symbol", maintain_order=True)
        .agg(pl.col("last_price").to_physical().last())
    )
    return {str(s): int(p) for s, p in rows.iter_rows()}


def _minute_range(settings: ReportSettings, fill_minutes: list[int]) -> tuple[int, int] | None:
    if settings.window_start is not None and settings.window_end is not None:
        start = int(settings.window_start.timestamp() * 1_000_000) // _MINUTE_US
        end = -(-int(settings.window_end.timestamp() * 1_000_000) // _MINUTE_US)
        if 0 < end - start <= _MAX_CURVE_MINUTES:
            return start, end
    if not fill_minutes:
        return None
    start, end = min(fill_minutes), max(fill_minutes) + 1
    return (start, end) if end - start <= _MAX_CURVE_MINUTES else None


def _average(total: int, count: int, scale: int) -> Decimal | None:
    if count == 0:
        return None
    return (scaled(total, scale) / count).quantize(_AVERAGE_QUANTUM, rounding=ROUND_HALF_EVEN, context=WIDE)


def compute_pnl(
    executions: pl.DataFrame,
    last_prices: pl.DataFrame,
    tca: pl.DataFrame,
    settings: ReportSettings,
) -> PnlResult:
    """FIFO P&L of the scoped executions, marked at the last prices, with costs and the equity curve."""
    fills = _fills_frame(executions)
    skips = fills["skip"].value_counts()
    skipped = {str(k): int(v) for k, v in skips.iter_rows() if k is not None}
    valid = fills.filter(pl.col("skip").is_null())
    costs_model = CostModel.of(settings.commission_bps, settings.per_trade_fee)
    ledger = match_fills(
        Fills(
            symbols=valid["symbol"],
            buys=valid["side"] == "buy",
            qtys=valid["qty"],
            prices=valid["price"],
            stamps=valid["fill_ts"].dt.epoch("us"),
        ),
        costs_model.bps_units,
        costs_model.fee_units,
    )
    by_symbol, unrealized_total = _by_symbol(ledger.books, _last_prices(last_prices), costs_model.scale)
    curve = _equity_curve(
        settings,
        ledger.snapshots,
        ledger.realized_total,
        unrealized_total,
        ledger.cost_total,
        10 ** (costs_model.scale - MONEY_SCALE),
        costs_model.scale,
    )
    section = _section(ledger, costs_model, valid.height, unrealized_total, curve).model_copy(
        update={
            "skipped_zero_quantity": skipped.get("zero_quantity", 0),
            "skipped_missing_price": skipped.get("missing_price", 0),
            "skipped_unknown_side": skipped.get("unknown_side", 0),
            "by_symbol": by_symbol,
            "tca_proxy": _tca_proxy(tca),
        }
    )
    return PnlResult(section=section, trades=_trades(valid, ledger, costs_model.scale), equity_curve=curve)


def _trades(valid: pl.DataFrame, ledger: Ledger, cost_scale: int) -> pl.DataFrame:
    """The per-fill table of `trade-pnl.csv`."""
    return frame_from_arrays(
        {
            "fill_seq": pl.Series(range(1, valid.height + 1), dtype=pl.Int64),
            "fill_ts": valid["fill_ts"],
            "execution_id": valid["execution_id"],
            "trade_decision_id": valid["trade_decision_id"],
            "symbol": valid["symbol"],
            "side": valid["side"],
            "qty": decimal_column(valid["qty"], QTY_SCALE),
            "price": decimal_column(valid["price"], QTY_SCALE),
            "notional": decimal_column(ledger.notional, MONEY_SCALE),
            "realized_pnl": decimal_column(ledger.realized, MONEY_SCALE),
            "cost": decimal_column(ledger.cost, cost_scale),
            "position_after": decimal_column(ledger.position, QTY_SCALE),
        }
    )


def _by_symbol(books: dict[str, Book], marks: dict[str, int], cost_scale: int) -> tuple[list[SymbolPnl], int]:
    """Each symbol's P&L, open lots marked at its last price (else its last fill); and Σ unrealized."""
    by_symbol: list[SymbolPnl] = []
    unrealized_total = 0
    for symbol in sorted(books):
        book = books[symbol]
        mark = marks.get(symbol)
        source: MarkSource = "last_price"
        if mark is None:
            mark, source = book.last_fill_price, "last_fill"
        unrealized = book.position * mark - book.signed_cost
        unrealized_total += unrealized
        gross = book.realized + unrealized
        costs = scaled(book.costs, cost_scale)
        by_symbol.append(
            SymbolPnl(
                symbol=symbol,
                fills=book.fills,
                bought_qty=scaled(book.bought, QTY_SCALE),
                sold_qty=scaled(book.sold, QTY_SCALE),
                turnover=scaled(book.turnover, MONEY_SCALE),
                realized=scaled(book.realized, MONEY_SCALE),
                unrealized=scaled(unrealized, MONEY_SCALE),
                gross=scaled(gross, MONEY_SCALE),
                costs=costs,
                net=scaled(gross, MONEY_SCALE) - costs,
                open_qty=scaled(book.position, QTY_SCALE),
                mark_price=scaled(mark, QTY_SCALE),
                mark_source=source,
                max_abs_exposure=scaled(book.max_exposure, MONEY_SCALE),
                closing_fills=book.closing_fills,
                wins=book.wins,
                losses=book.losses,
            )
        )
    return by_symbol, unrealized_total


def _section(ledger: Ledger, model: CostModel, n: int, unrealized_total: int, curve: pl.DataFrame) -> Pnl:
    """The day's totals (skips, symbols and TCA are filled in by the caller)."""
    books = ledger.books.values()
    max_dd, max_dd_at = _max_drawdown(curve, model.scale)
    commission_total = sum(b.costs for b in books) - model.fee_units * n
    closing = sum(b.closing_fills for b in books)
    wins = sum(b.wins for b in books)
    losses = sum(b.losses for b in books)
    gross_total = ledger.realized_total + unrealized_total
    costs_dec = scaled(ledger.cost_total, model.scale)
    return Pnl(
        fills=n,
        skipped_zero_quantity=0,
        skipped_missing_price=0,
        skipped_unknown_side=0,
        realized=scaled(ledger.realized_total, MONEY_SCALE),
        unrealized=scaled(unrealized_total, MONEY_SCALE),
        gross=scaled(gross_total, MONEY_SCALE),
        commission=scaled(commission_total, model.scale),
        fees=scaled(model.fee_units * n, model.scale),
        costs=costs_dec,
        net=scaled(gross_total, MONEY_SCALE) - costs_dec,
        turnover=scaled(sum(b.turnover for b in books), MONEY_SCALE),
        closing_fills=closing,
        wins=wins,
        losses=losses,
        win_rate=rate(wins, closing),
        average_win=_average(ledger.wins_sum, wins, MONEY_SCALE),
        average_loss=_average(ledger.losses_sum, losses, MONEY_SCALE),
        max_drawdown=max_dd,
        max_drawdown_at=max_dd_at,
        peak_gross_exposure=scaled(ledger.peak_exposure, MONEY_SCALE),
        equity_curve_points=curve.height,
        by_symbol=[],
        tca_proxy=TcaProxy(rows=0, shortfall_notional=Decimal(0), realized_pnl_proxy_notional=Decimal(0)),
    )


def _equity_curve(
    settings: ReportSettings,
    snapshots: dict[int, tuple[int, int, int]],
    realized_final: int,
    unrealized_final: int,
    cost_final: int,
    cost_factor: int,
    cost_scale: int,
) -> pl.DataFrame:
    """Equity at the end of every minute (marks at each symbol's last fill), then a closing mark."""
    span = _minute_range(settings, sorted(snapshots))
    minutes: list[int] = []
    realized_col: list[int] = []
    mtm_col: list[int] = []
    cost_col: list[int] = []
    if span is not None:
        start, end = span
        state = (0, 0, 0)
        # Fills stamped before the window open count in its first minute.
        for minute in sorted(m for m in snapshots if m < start):
            state = snapshots[minute]
        for minute in range(start, end):
            state = snapshots.get(minute, state)
            minutes.append(minute)
            realized_col.append(state[0])
            mtm_col.append(state[1])
            cost_col.append(state[2])
        if snapshots and max(snapshots) >= end:
            state = snapshots[max(snapshots)]
            realized_col[-1], mtm_col[-1], cost_col[-1] = state
        # The closing point re-marks open positions at the last prices (or last fills).
        minutes.append(end)
        realized_col.append(realized_final)
        mtm_col.append(unrealized_final)
        cost_col.append(cost_final)
    equity_net = [(r + m) * cost_factor - c for r, m, c in zip(realized_col, mtm_col, cost_col, strict=True)]
    drawdown: list[int] = []
    peak = 0
    for value in equity_net:
        peak = max(peak, value)
        drawdown.append(peak - value)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return frame_from_arrays(
        {
            "minute": pl.Series(
                [epoch + timedelta(minutes=m) for m in minutes], dtype=pl.Datetime("us", "UTC")
            ),
            "realized": decimal_array(realized_col, MONEY_SCALE),
            "unrealized": decimal_array(mtm_col, MONEY_SCALE),
            "equity": decimal_array([r + m for r, m in zip(realized_col, mtm_col, strict=True)], MONEY_SCALE),
            "costs": decimal_array(cost_col, cost_scale),
            "equity_net": decimal_array(equity_net, cost_scale),
            "drawdown": decimal_array(drawdown, cost_scale),
        }
    )


def _max_drawdown(curve: pl.DataFrame, cost_scale: int) -> tuple[Decimal, str | None]:
    if curve.height == 0:
        return Decimal(0), None
    drawdown = curve["drawdown"].to_physical()
    worst = drawdown.max()
    if worst is None or int(str(worst)) <= 0:
        return Decimal(0), None
    at = int(drawdown.arg_max() or 0)
    return scaled(int(str(worst)), cost_scale), iso_utc(curve["minute"][at])


def _tca_proxy(tca: pl.DataFrame) -> TcaProxy:
    total = int(tca["shortfall_notional"].to_physical().fill_null(0).sum())
    shortfall = scaled(total, QTY_SCALE)
    # Shortfall is a cost: a positive shortfall is money given up against the arrival price.
    return TcaProxy(rows=tca.height, shortfall_notional=shortfall, realized_pnl_proxy_notional=-shortfall)
