"""FIFO lot matching of a day's fills per symbol, on exact scaled integers: vectorized, with a loop fallback.

Under FIFO (flips included) the k-th unit a symbol bought is always matched with the k-th unit it sold,
and the later of the two fills realizes the pair. So every fill's realized P&L and its open lots' cost
are differences of the cumulative-cost curves of the buy and the sell streams, which polars evaluates
for all fills at once on 128-bit integers. When the day's magnitudes could leave 128 bits, the plain
loop over the fills (the reference the vectorized path is tested against) computes the same ledger.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import polars as pl

_MINUTE_US = 60_000_000
# Every intermediate stays below this (2¹²⁷ is Int128's limit; the bound is estimated in floats).
_SAFE_BOUND = float(2**120)
_QTY_BOUND = float(2**62)
_I128 = pl.Int128


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
class Fills:
    """Valid fills in fill order: symbol, buy?, quantity and price (×10¹⁰), fill time (µs, may be null)."""

    symbols: pl.Series
    buys: pl.Series
    qtys: pl.Series
    prices: pl.Series
    stamps: pl.Series

    @property
    def count(self) -> int:
        """How many fills."""
        return len(self.symbols)


@dataclass
class Ledger:
    """Per-fill columns (integers: Int128 series or lists), per-symbol books and the day's running totals."""

    notional: pl.Series | list[int]  # ×10²⁰
    realized: pl.Series | list[int]  # ×10²⁰
    cost: pl.Series | list[int]  # at the cost scale
    position: pl.Series | list[int]  # after the fill, ×10¹⁰
    books: dict[str, Book]
    realized_total: int = 0
    cost_total: int = 0
    peak_exposure: int = 0
    wins_sum: int = 0
    losses_sum: int = 0
    # Per minute (µs // 60 s): realized, mark-to-market and costs after that minute's last fill.
    snapshots: dict[int, tuple[int, int, int]] = field(default_factory=dict)


def match_fills(fills: Fills, bps_units: int, fee_units: int) -> Ledger:
    """The FIFO ledger of the fills: vectorized when 128-bit integers surely hold it, else the loop."""
    if fills.count and _fits_int128(fills, bps_units, fee_units):
        return _match_vectorized(fills, bps_units, fee_units)
    return match_loop(fills, bps_units, fee_units)


def _fits_int128(fills: Fills, bps_units: int, fee_units: int) -> bool:
    """Whether every sum and product of the ledger stays far inside Int128 (a float estimate, with margin)."""
    q = fills.qtys.cast(pl.Float64)
    p = fills.prices.cast(pl.Float64)
    money = max(float((q * p).sum()), float(q.sum()) * float(p.max() or 0.0))  # type: ignore[arg-type]
    costs = money * max(abs(bps_units), 1) + fills.count * float(abs(fee_units))
    # Quantities and their running sums are int64 in the vectorized path.
    return max(money, costs) < _SAFE_BOUND and float(q.sum()) < _QTY_BOUND


def match_loop(fills: Fills, bps_units: int, fee_units: int) -> Ledger:
    """The reference: one fill at a time through each symbol's Book."""
    symbols: list[str] = fills.symbols.to_list()
    buys: list[bool] = fills.buys.to_list()
    qtys: list[int] = fills.qtys.to_list()
    prices: list[int] = fills.prices.to_list()
    stamps: list[int | None] = fills.stamps.to_list()
    n = len(symbols)
    notionals, realizeds, costs, positions = [0] * n, [0] * n, [0] * n, [0] * n
    ledger = Ledger(notional=notionals, realized=realizeds, cost=costs, position=positions, books={})
    mtm_total = exposure_total = 0
    for i in range(n):
        book = ledger.books.get(symbols[i])
        if book is None:
            book = ledger.books[symbols[i]] = Book()
        qty, price, sign = qtys[i], prices[i], 1 if buys[i] else -1
        realized, closed = book.fill(sign, qty, price)
        notional = qty * price
        cost = notional * bps_units + fee_units
        # Marks of the other symbols stay at their own last fill; this symbol moves to this price.
        mtm = book.position * price - book.signed_cost
        exposure = abs(book.position) * price
        mtm_total += mtm - book.mtm
        exposure_total += exposure - book.exposure
        book.mtm, book.exposure, book.last_fill_price = mtm, exposure, price
        book.max_exposure = max(book.max_exposure, exposure)
        _tally(book, sign, qty, notional, cost)
        if closed:
            _tally_close(ledger, book, realized)
        ledger.realized_total += realized
        ledger.cost_total += cost
        ledger.peak_exposure = max(ledger.peak_exposure, exposure_total)
        stamp = stamps[i]
        if stamp is not None:
            ledger.snapshots[stamp // _MINUTE_US] = (ledger.realized_total, mtm_total, ledger.cost_total)
        notionals[i], realizeds[i], costs[i], positions[i] = notional, realized, cost, book.position
    return ledger


def _tally(book: Book, sign: int, qty: int, notional: int, cost: int) -> None:
    book.fills += 1
    book.turnover += notional
    book.costs += cost
    if sign > 0:
        book.bought += qty
    else:
        book.sold += qty


def _tally_close(ledger: Ledger, book: Book, realized: int) -> None:
    book.closing_fills += 1
    if realized > 0:
        book.wins += 1
        ledger.wins_sum += realized
    elif realized < 0:
        book.losses += 1
        ledger.losses_sum += realized


class _CostCurve:
    """One side's stream (buys or sells), symbol after symbol in fill order, as a cost curve.

    Globally, C(X) = K[j] − (G[j] − X)·p[j] at the first j with G[j] ≥ X (G, K: cumulative quantity and
    cost); a symbol's own curve is C(base + units) − C(base), base being the totals before its first unit.
    """

    def __init__(self, frame: pl.DataFrame, buy: bool) -> None:
        self.stream = (
            frame.filter(pl.col("buy") if buy else ~pl.col("buy"))
            .select("sym", "q", "p")
            .sort("sym", maintain_order=True)
            .with_columns(pl.col("q").cum_sum().alias("G"), (pl.col("q") * pl.col("p")).cum_sum().alias("K"))
        )
        bases = self.stream.group_by("sym", maintain_order=True).agg(
            (pl.col("G").first() - pl.col("q").first()).alias("base_g")
        )
        # Each fill's symbol base (a symbol without units on this side is only ever asked for 0 units).
        base = frame.select("sym").join(bases, on="sym", how="left", maintain_order="left")
        self.base_g = base["base_g"].fill_null(0)

    def _cost(self, target: pl.Series) -> pl.Series:
        """C(X) of the whole stream at each cumulative quantity X (×10²⁰)."""
        stream = self.stream
        j = stream["G"].search_sorted(target, side="left").clip(upper_bound=stream.height - 1)
        return stream["K"].gather(j) - (stream["G"].gather(j) - target) * stream["p"].gather(j)

    def between(self, rows: pl.Series, low: pl.Series, units: pl.Series) -> pl.Series:
        """Cost of this side's units low+1 … low+units of each listed fill's symbol (×10²⁰); `rows` are
        the fills' positions in the day. The symbol's base cost cancels out of the difference."""
        if self.stream.height == 0:
            return pl.zeros(len(rows), dtype=_I128, eager=True)
        start = self.base_g.gather(rows) + low
        return self._cost(start + units) - self._cost(start)


def _match_vectorized(fills: Fills, bps_units: int, fee_units: int) -> Ledger:
    """Every fill's realized P&L, position and open-lot cost at once, from the two streams' cost curves.

    Each step selects only the columns later steps read: the day's per-fill frame is the P&L's peak memory.
    """
    q, p, m, buy = pl.col("q"), pl.col("p"), pl.col("m"), pl.col("buy")
    base = pl.DataFrame(
        {
            "sym": fills.symbols.cast(pl.Categorical),
            "buy": fills.buys,
            "q": fills.qtys.cast(pl.Int64),
            "p": fills.prices.cast(_I128),
            "stamp": fills.stamps,
        }
    )
    # Units bought (B) and sold (S) by the symbol before this fill.
    before = base.select(
        (pl.when(buy).then(q).otherwise(0).cum_sum().over("sym") - pl.when(buy).then(q).otherwise(0)).alias(
            "B0"
        ),
        (pl.when(buy).then(0).otherwise(q).cum_sum().over("sym") - pl.when(buy).then(0).otherwise(q)).alias(
            "S0"
        ),
    )
    b0, s0 = pl.col("B0"), pl.col("S0")
    steps = pl.concat([base, before], how="horizontal").select(
        pl.min_horizontal(b0, s0).alias("low0"),
        # Units this fill closes: at most its quantity, at most the opposite side's open units.
        pl.min_horizontal(q, pl.when(buy).then(s0 - b0).otherwise(b0 - s0)).clip(lower_bound=0).alias("m"),
        (pl.when(buy).then(b0 + q).otherwise(b0) - pl.when(buy).then(s0).otherwise(s0 + q)).alias("position"),
    )
    del before
    # What the closed units had cost: they are the opposite side's units low0+1 … low0+m. Only closing
    # fills have any (m > 0), so each curve is read at the closing fills of the other side alone.
    matched = pl.zeros(base.height, dtype=_I128, eager=True).alias("matched")
    closing, buys = steps["m"] > 0, base["buy"]
    for curve, closers in (
        (_CostCurve(base, buy=False), closing & buys),
        (_CostCurve(base, buy=True), closing & ~buys),
    ):
        rows = closers.arg_true()
        if len(rows):
            matched.scatter(rows, curve.between(rows, steps["low0"].gather(rows), steps["m"].gather(rows)))
    frame = pl.concat([base, steps.select("m", "position"), matched.to_frame()], how="horizontal")
    del steps
    frame = frame.select(
        "sym",
        "buy",
        "q",
        "p",
        "stamp",
        "position",
        (m > 0).alias("closed"),
        pl.when(buy).then(pl.col("matched") - m * p).otherwise(m * p - pl.col("matched")).alias("realized"),
        # Closing removes the matched lots' signed cost and the rest opens at the fill's price: the open
        # lots' signed cost moves by sign·(matched cost + unmatched quantity·price).
        pl.when(buy)
        .then(pl.col("matched") + (q - m) * p)
        .otherwise(pl.lit(0, _I128) - (pl.col("matched") + (q - m) * p))
        .cum_sum()
        .over("sym")
        .alias("open_cost"),
        (q * p).alias("notional"),
    ).with_columns(
        (pl.col("position") * p - pl.col("open_cost")).alias("mtm"),
        (pl.col("position").abs() * p).alias("exposure"),
        (pl.col("notional") * pl.lit(bps_units, _I128) + pl.lit(fee_units, _I128)).alias("cost"),
    )
    return _ledger(frame)


def _ledger(frame: pl.DataFrame) -> Ledger:
    """Running totals, per-minute snapshots and per-symbol books of the per-fill frame."""
    realized, closed = pl.col("realized"), pl.col("closed")
    totals = frame.select(
        pl.col("realized").cum_sum().alias("realized_total"),
        (pl.col("mtm") - pl.col("mtm").shift(1, fill_value=0).over("sym")).cum_sum().alias("mtm_total"),
        (pl.col("exposure") - pl.col("exposure").shift(1, fill_value=0).over("sym"))
        .cum_sum()
        .alias("exposure_total"),
        pl.col("cost").cum_sum().alias("cost_total"),
        (pl.col("stamp") // _MINUTE_US).alias("minute"),
    )
    snapshots = (
        totals.filter(pl.col("minute").is_not_null())
        .group_by("minute", maintain_order=True)
        .agg(pl.col("realized_total", "mtm_total", "cost_total").last())
    )
    sums = frame.select(
        realized.filter(closed & (realized > 0)).sum().alias("wins"),
        realized.filter(closed & (realized < 0)).sum().alias("losses"),
    ).row(0)
    peak = totals["exposure_total"].max()
    return Ledger(
        notional=frame["notional"],
        realized=frame["realized"],
        cost=frame["cost"],
        position=frame["position"],
        books=_books(frame),
        realized_total=int(totals["realized_total"][-1]),
        cost_total=int(totals["cost_total"][-1]),
        peak_exposure=max(int(peak), 0) if peak is not None else 0,  # type: ignore[arg-type]
        wins_sum=int(sums[0]),
        losses_sum=int(sums[1]),
        snapshots={int(m): (int(r), int(u), int(c)) for m, r, u, c in snapshots.iter_rows()},
    )


def _books(frame: pl.DataFrame) -> dict[str, Book]:
    """Each symbol's final book (no open lots kept: the totals are what the report needs)."""
    realized, closed = pl.col("realized"), pl.col("closed")
    # Each aggregate is named for the Book field it fills.
    rows = frame.group_by("sym").agg(
        pl.col("position").last(),
        pl.col("open_cost").last().alias("signed_cost"),
        realized.sum().alias("realized"),
        pl.col("p").last().alias("last_fill_price"),
        pl.col("mtm").last(),
        pl.col("exposure").last(),
        pl.col("exposure").max().clip(lower_bound=0).alias("max_exposure"),
        pl.len().alias("fills"),
        pl.col("q").filter("buy").sum().alias("bought"),
        pl.col("q").filter(~pl.col("buy")).sum().alias("sold"),
        pl.col("notional").sum().alias("turnover"),
        pl.col("cost").sum().alias("costs"),
        closed.sum().alias("closing_fills"),
        (closed & (realized > 0)).sum().alias("wins"),
        (closed & (realized < 0)).sum().alias("losses"),
    )
    books: dict[str, Book] = {}
    for row in rows.iter_rows(named=True):
        book = books[str(row.pop("sym"))] = Book()
        for name, value in row.items():
            setattr(book, name, int(value))
    return books
