"""The vectorized FIFO matcher against hand-computed ledgers and against the per-fill loop it replaces."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_sim.report.fifo import Fills, Ledger, match_fills, match_loop

U = 10**10  # quantities and prices are ×10¹⁰
MINUTE = 60_000_000


def _fills(rows: list[tuple[str, str, int, int, int | None]]) -> Fills:
    """(symbol, side, qty ×10¹⁰, price ×10¹⁰, stamp µs) in fill order."""
    return Fills(
        symbols=pl.Series([r[0] for r in rows], dtype=pl.String),
        buys=pl.Series([r[1] == "buy" for r in rows], dtype=pl.Boolean),
        qtys=pl.Series([r[2] for r in rows], dtype=pl.Int128),
        prices=pl.Series([r[3] for r in rows], dtype=pl.Int128),
        stamps=pl.Series([r[4] for r in rows], dtype=pl.Int64),
    )


def _ints(values: pl.Series | list[int]) -> list[int]:
    return [int(v) for v in (values.to_list() if isinstance(values, pl.Series) else values)]


def _view(ledger: Ledger) -> dict[str, object]:
    """Everything the report reads of a ledger, as plain integers."""
    books = {
        symbol: (
            b.position,
            b.signed_cost,
            b.realized,
            b.last_fill_price,
            b.max_exposure,
            b.fills,
            b.bought,
            b.sold,
            b.turnover,
            b.costs,
            b.closing_fills,
            b.wins,
            b.losses,
        )
        for symbol, b in ledger.books.items()
    }
    return {
        "notional": _ints(ledger.notional),
        "realized": _ints(ledger.realized),
        "cost": _ints(ledger.cost),
        "position": _ints(ledger.position),
        "books": books,
        "totals": (
            ledger.realized_total,
            ledger.cost_total,
            ledger.peak_exposure,
            ledger.wins_sum,
            ledger.losses_sum,
        ),
        "snapshots": ledger.snapshots,
    }


def test_flip_and_short_cover_by_hand() -> None:
    # NVDA: buy 2 @10, sell 5 @12 (closes 2 at +2, opens short 3 @12), buy 1 @11 (covers 1 at +1).
    # AMD: sell 1 @50 (opens short), in between.
    fills = _fills(
        [
            ("NVDA", "buy", 2 * U, 10 * U, 0),
            ("AMD", "sell", 1 * U, 50 * U, 30_000_000),
            ("NVDA", "sell", 5 * U, 12 * U, MINUTE + 5),
            ("NVDA", "buy", 1 * U, 11 * U, None),
        ]
    )
    ledger = match_fills(fills, bps_units=5, fee_units=7)
    assert isinstance(ledger.realized, pl.Series)  # the vectorized path served it
    m = U * U
    assert _ints(ledger.realized) == [0, 0, 4 * m, 1 * m]
    assert _ints(ledger.position) == [2 * U, -1 * U, -3 * U, -2 * U]
    assert _ints(ledger.notional) == [20 * m, 50 * m, 60 * m, 11 * m]
    assert _ints(ledger.cost) == [20 * m * 5 + 7, 50 * m * 5 + 7, 60 * m * 5 + 7, 11 * m * 5 + 7]
    nvda = ledger.books["NVDA"]
    # Open: short 2 from the 12 lot; signed cost −24; last fill 11.
    assert (nvda.position, nvda.signed_cost, nvda.realized, nvda.last_fill_price) == (
        -2 * U,
        -24 * m,
        5 * m,
        11 * U,
    )
    assert (nvda.closing_fills, nvda.wins, nvda.losses, nvda.fills) == (2, 2, 0, 3)
    assert (nvda.bought, nvda.sold, nvda.max_exposure) == (3 * U, 5 * U, 36 * m)
    assert ledger.books["AMD"].signed_cost == -50 * m
    # Exposure: 20, then 20 + 50, then 36 + 50 (short 3 at 12), then 22 + 50.
    assert ledger.peak_exposure == 86 * m
    assert (ledger.realized_total, ledger.wins_sum, ledger.losses_sum) == (5 * m, 5 * m, 0)
    # Minute 0 ends after AMD's fill (mtm 0 on both); minute 1 after the flip: short 3 @12 marked at 12.
    cost_two = (20 + 50) * m * 5 + 14
    assert ledger.snapshots == {0: (0, 0, cost_two), 1: (4 * m, 0, cost_two + 60 * m * 5 + 7)}
    assert _view(ledger) == _view(match_loop(fills, bps_units=5, fee_units=7))


def test_magnitudes_beyond_128_bits_take_the_loop() -> None:
    fills = _fills([("NVDA", "buy", 10**30, 10**30, 0), ("NVDA", "sell", 10**30, 2 * 10**30, 1)])
    ledger = match_fills(fills, bps_units=1, fee_units=0)
    assert isinstance(ledger.realized, list)
    assert ledger.realized == [0, 10**60]


def test_quantities_beyond_int64_running_sums_take_the_loop() -> None:
    # Money stays small (price 10⁻¹⁰) but the running quantity passes 2⁶²: the loop serves it.
    fills = _fills([("MU", "buy", 3 * 10**18, 1, 0), ("MU", "buy", 3 * 10**18, 1, 1)])
    ledger = match_fills(fills, bps_units=1, fee_units=0)
    assert isinstance(ledger.position, list)
    assert ledger.position == [3 * 10**18, 6 * 10**18]


_ROW = st.tuples(
    st.sampled_from(["AMD", "MU", "NVDA"]),
    st.sampled_from(["buy", "sell"]),
    st.integers(min_value=1, max_value=5 * U),
    st.integers(min_value=1, max_value=200 * U),
    st.one_of(st.none(), st.integers(min_value=0, max_value=5 * MINUTE)),
)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(_ROW, min_size=1, max_size=40), bps=st.integers(0, 10**6), fee=st.integers(0, 10**25))
def test_vectorized_equals_the_loop(
    rows: list[tuple[str, str, int, int, int | None]], bps: int, fee: int
) -> None:
    # Stamps in fill order, as the report sorts them (nulls, when any, last).
    stamps = sorted(r[4] for r in rows if r[4] is not None)
    stamps += [None] * (len(rows) - len(stamps))
    ordered = [(*r[:4], s) for r, s in zip(rows, stamps, strict=True)]
    fills = _fills(ordered)
    vectorized = match_fills(fills, bps, fee)
    assert isinstance(vectorized.realized, pl.Series)
    assert _view(vectorized) == _view(match_loop(fills, bps, fee))
