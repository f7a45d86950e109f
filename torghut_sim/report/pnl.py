"""The P&L section: FIFO lot matching per symbol on exact scaled integers, costs, equity curve, TCA proxy.

Every quantity and price arrives as decimal128(38, 10); the matcher works on the physical integers
(value × 10¹⁰), so money is exact at scale 20 and costs exact at a scale wide enough for the
commission rate. Only the final figures become `Decimal`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl

from torghut_sim.report.arrays import decimal_array, frame_from_arrays
from torghut_sim.report.figures import MONEY_SCALE, QTY_SCALE, WIDE, iso_utc, rate, scaled
from torghut_sim.report.model import MarkSource, Pnl, SymbolPnl, TcaProxy
from torghut_sim.report.settings import ReportSettings

_MINUTE_US = 60_000_000
# Beyond a week of minutes a per-minute curve is a symptom of bad timestamps, not a trading day.
_MAX_CURVE_MINUTES = 7 * 24 * 60
_AVERAGE_QUANTUM = Decimal("1e-10")


@dataclass(slots=True)
class Book:
    """Open FIFO lots of one symbol and its running totals, as scaled integers."""

    lots: deque[list[int]] = field(default_factory=deque)  # [qty ×10¹⁰, price ×10¹⁰], oldest first
    sign: int = 0  # +1 long lots, -1 short lots, 0 flat
    position: int = 0  # signed, ×10¹⁰
    signed_cost: int = 0  # Σ sign·qty·price of open lots, ×10²⁰
    realized: int = 0  # ×10²⁰
    last_fill_price: int = 0
    mtm: int = 0  # position·last fill price − signed_cost, ×10²⁰
    exposure: int = 0  # |position|·last fill price, ×10²⁰
    max_exposure: int = 0
    fills: int = 0
    bought: int = 0
    sold: int = 0
    turnover: int = 0
    costs: int = 0  # at the cost scale
    closing_fills: int = 0
    wins: int = 0
    losses: int = 0

    def fill(self, sign: int, qty: int, price: int) -> tuple[int, bool]:
        """Apply one fill; returns its realized P&L (×10²⁰) and whether it closed any lot."""
        remaining = qty
        realized = 0
        closed = False
        if self.sign == -sign:
            # A buy first covers shorts and a sell first closes longs, oldest lot first.
            closed = True
            lots = self.lots
            lot_sign = self.sign
            matched_cost = 0
            while remaining and lots:
                lot = lots[0]
                lot_qty, lot_price = lot
                matched = lot_qty if lot_qty <= remaining else remaining
                realized += matched * (price - lot_price)
                matched_cost += matched * lot_price
                if matched == lot_qty:
                    lots.popleft()
                else:
                    lot[0] = lot_qty - matched
                remaining -= matched
            realized *= lot_sign
            self.signed_cost -= lot_sign * matched_cost
            if not lots:
                self.sign = 0
        if remaining:
            # What is left after closing (a flip, or a plain opening) opens a lot on the fill's side.
            self.lots.append([remaining, price])
            self.sign = sign
            self.signed_cost += sign * remaining * price
        self.position += sign * qty
        self.realized += realized
        return realized, closed


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
    cost_factor = 10 ** (costs_model.scale - MONEY_SCALE)
    bps_units, fee_units = costs_model.bps_units, costs_model.fee_units

    symbols: list[str] = valid["symbol"].to_list()
    buys: list[bool] = (valid["side"] == "buy").to_list()
    qtys: list[int] = valid["qty"].to_list()
    prices: list[int] = valid["price"].to_list()
    stamps: list[int | None] = valid["fill_ts"].dt.epoch("us").to_list()

    books: dict[str, Book] = {}
    n = len(symbols)
    out_notional = [0] * n
    out_realized = [0] * n
    out_cost = [0] * n
    out_position = [0] * n
    realized_total = mtm_total = cost_total = exposure_total = peak_exposure = 0
    snapshots: dict[int, tuple[int, int, int]] = {}
    wins_sum = losses_sum = 0
    for i in range(n):
        symbol = symbols[i]
        book = books.get(symbol)
        if book is None:
            book = books[symbol] = Book()
        qty = qtys[i]
        price = prices[i]
        sign = 1 if buys[i] else -1
        realized, closed = book.fill(sign, qty, price)
        notional = qty * price
        cost = notional * bps_units + fee_units
        # Marks of the other symbols stay at their own last fill; this symbol moves to this price.
        mtm = book.position * price - book.signed_cost
        exposure = abs(book.position) * price
        mtm_total += mtm - book.mtm
        exposure_total += exposure - book.exposure
        book.mtm = mtm
        book.exposure = exposure
        book.last_fill_price = price
        # Plain comparisons: a builtin max() call per fill costs more in this hot loop.
        if exposure > book.max_exposure:  # noqa: PLR1730
            book.max_exposure = exposure
        book.fills += 1
        book.turnover += notional
        book.costs += cost
        if sign > 0:
            book.bought += qty
        else:
            book.sold += qty
        if closed:
            book.closing_fills += 1
            if realized > 0:
                book.wins += 1
                wins_sum += realized
            elif realized < 0:
                book.losses += 1
                losses_sum += realized
        realized_total += realized
        cost_total += cost
        if exposure_total > peak_exposure:  # noqa: PLR1730
            peak_exposure = exposure_total
        stamp = stamps[i]
        if stamp is not None:
            snapshots[stamp // _MINUTE_US] = (realized_total, mtm_total, cost_total)
        out_notional[i] = notional
        out_realized[i] = realized
        out_cost[i] = cost
        out_position[i] = book.position

    marks = _last_prices(last_prices)
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
        costs = scaled(book.costs, costs_model.scale)
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

    curve = _equity_curve(
        settings, snapshots, realized_total, unrealized_total, cost_total, cost_factor, costs_model.scale
    )
    max_dd, max_dd_at = _max_drawdown(curve, costs_model.scale)
    commission_total = sum(b.costs for b in books.values()) - costs_model.fee_units * n
    closing = sum(b.closing_fills for b in books.values())
    wins = sum(b.wins for b in books.values())
    losses = sum(b.losses for b in books.values())
    gross_total = realized_total + unrealized_total
    costs_dec = scaled(cost_total, costs_model.scale)
    section = Pnl(
        fills=n,
        skipped_zero_quantity=skipped.get("zero_quantity", 0),
        skipped_missing_price=skipped.get("missing_price", 0),
        skipped_unknown_side=skipped.get("unknown_side", 0),
        realized=scaled(realized_total, MONEY_SCALE),
        unrealized=scaled(unrealized_total, MONEY_SCALE),
        gross=scaled(gross_total, MONEY_SCALE),
        commission=scaled(commission_total, costs_model.scale),
        fees=scaled(costs_model.fee_units * n, costs_model.scale),
        costs=costs_dec,
        net=scaled(gross_total, MONEY_SCALE) - costs_dec,
        turnover=scaled(sum(b.turnover for b in books.values()), MONEY_SCALE),
        closing_fills=closing,
        wins=wins,
        losses=losses,
        win_rate=rate(wins, closing),
        average_win=_average(wins_sum, wins, MONEY_SCALE),
        average_loss=_average(losses_sum, losses, MONEY_SCALE),
        max_drawdown=max_dd,
        max_drawdown_at=max_dd_at,
        peak_gross_exposure=scaled(peak_exposure, MONEY_SCALE),
        equity_curve_points=curve.height,
        by_symbol=by_symbol,
        tca_proxy=_tca_proxy(tca),
    )
    trades = frame_from_arrays(
        {
            "fill_seq": pl.Series(range(1, n + 1), dtype=pl.Int64),
            "fill_ts": valid["fill_ts"],
            "execution_id": valid["execution_id"],
            "trade_decision_id": valid["trade_decision_id"],
            "symbol": valid["symbol"],
            "side": valid["side"],
            "qty": decimal_array(qtys, QTY_SCALE),
            "price": decimal_array(prices, QTY_SCALE),
            "notional": decimal_array(out_notional, MONEY_SCALE),
            "realized_pnl": decimal_array(out_realized, MONEY_SCALE),
            "cost": decimal_array(out_cost, costs_model.scale),
            "position_after": decimal_array(out_position, QTY_SCALE),
        }
    )
    return PnlResult(section=section, trades=trades, equity_curve=curve)


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
