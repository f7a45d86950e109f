"""FIFO P&L on hand-computed vectors: the contract vector, shorts, flips, partial fills, costs, skips."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from torghut_sim.report.inputs import load_run
from torghut_sim.report.model import Pnl
from torghut_sim.report.pnl import PnlResult, compute_pnl
from unit.report_builders import RunBuilder, at


def _pnl(builder: RunBuilder) -> PnlResult:
    inputs = load_run(builder.write())
    return compute_pnl(inputs.executions, inputs.last_prices, inputs.tca, inputs.settings)


def _d(value: str) -> Decimal:
    return Decimal(value)


def _symbol(section: Pnl, symbol: str) -> dict[str, object]:
    return next(s for s in section.by_symbol if s.symbol == symbol).model_dump()


@pytest.fixture
def builder(tmp_path: Path) -> RunBuilder:
    return RunBuilder(tmp_path / "run")


def test_contract_vector(builder: RunBuilder) -> None:
    builder.trade("buy", "2", "10", fill_ts=at(60))
    builder.trade("sell", "1", "13", fill_ts=at(120))
    builder.last_price("NVDA", "12")
    pnl = _pnl(builder).section
    assert (pnl.realized, pnl.unrealized, pnl.gross) == (_d("3"), _d("2"), _d("5"))
    assert pnl.net == _d("5")
    assert pnl.turnover == _d("33")
    assert (pnl.closing_fills, pnl.wins, pnl.losses, pnl.win_rate) == (1, 1, 0, 1.0)
    nvda = _symbol(pnl, "NVDA")
    assert nvda["open_qty"] == _d("1")
    assert nvda["mark_source"] == "last_price"


def test_short_opened_and_covered(builder: RunBuilder) -> None:
    builder.trade("sell", "3", "50", fill_ts=at(60))
    builder.trade("buy", "1", "45", fill_ts=at(120))  # covers 1 at +5
    builder.trade("buy", "2", "52", fill_ts=at(180))  # covers 2 at −2 each
    pnl = _pnl(builder).section
    assert pnl.realized == _d("1")
    assert pnl.unrealized == 0
    assert (pnl.wins, pnl.losses) == (1, 1)
    assert pnl.average_win == _d("5")
    assert pnl.average_loss == _d("-4")
    assert _symbol(pnl, "NVDA")["open_qty"] == 0


def test_open_short_is_marked_against_last_price(builder: RunBuilder) -> None:
    builder.trade("sell", "2", "20", fill_ts=at(60))
    builder.last_price("NVDA", "18.5")
    pnl = _pnl(builder).section
    assert pnl.unrealized == _d("3")  # 2 × (20 − 18.5)


def test_flip_long_to_short_in_one_fill(builder: RunBuilder) -> None:
    builder.trade("buy", "2", "10", fill_ts=at(60))
    builder.trade("sell", "5", "12", fill_ts=at(120))  # closes 2 at +2 each, opens short 3 at 12
    builder.last_price("NVDA", "11")
    result = _pnl(builder)
    pnl = result.section
    assert pnl.realized == _d("4")
    assert pnl.unrealized == _d("3")  # short 3 from 12 marked at 11
    assert _symbol(pnl, "NVDA")["open_qty"] == _d("-3")
    assert result.trades["position_after"].cast(pl.String).to_list() == ["2.0000000000", "-3.0000000000"]


def test_partial_fills_and_partial_lot_consumption(builder: RunBuilder) -> None:
    builder.trade("buy", "1.5", "100", submitted_qty="3", status="partially_filled", fill_ts=at(60))
    builder.trade("buy", "1", "102", fill_ts=at(120))
    builder.trade("sell", "2", "101", fill_ts=at(180))  # 1.5 × (+1) then 0.5 × (−1)
    builder.last_price("NVDA", "103")
    pnl = _pnl(builder).section
    assert pnl.realized == _d("1")
    assert pnl.unrealized == _d("0.5")  # remaining 0.5 of the 102 lot marked at 103
    assert _symbol(pnl, "NVDA")["open_qty"] == _d("0.5")


def test_fifo_order_follows_fill_time_not_insert_order(builder: RunBuilder) -> None:
    builder.trade("sell", "1", "15", fill_ts=at(300))
    builder.trade("buy", "1", "10", fill_ts=at(60))
    builder.trade("buy", "1", "12", fill_ts=at(120))
    pnl = _pnl(builder).section
    assert pnl.realized == _d("5")  # the 10 lot is oldest


def test_several_symbols_are_independent(builder: RunBuilder) -> None:
    builder.trade("buy", "1", "10", symbol="AMD", fill_ts=at(60))
    builder.trade("buy", "1", "100", symbol="NVDA", fill_ts=at(61))
    builder.trade("sell", "1", "8", symbol="AMD", fill_ts=at(62))
    builder.trade("sell", "1", "110", symbol="NVDA", fill_ts=at(63))
    pnl = _pnl(builder).section
    assert [s.symbol for s in pnl.by_symbol] == ["AMD", "NVDA"]
    assert _symbol(pnl, "AMD")["realized"] == _d("-2")
    assert _symbol(pnl, "NVDA")["realized"] == _d("10")
    assert pnl.realized == _d("8")


def test_zero_quantity_missing_price_and_unknown_side_are_skipped(builder: RunBuilder) -> None:
    builder.trade("buy", "2", "10", fill_ts=at(60))
    builder.trade("sell", "0", "99", status="canceled", fill_ts=at(61))
    builder.trade("sell", None, None, status="rejected", fill_ts=at(62))
    builder.trade("sell", "1", None, fill_ts=at(63))
    builder.trade("short", "1", "10", fill_ts=at(64))
    builder.trade("sell", "2", "11", fill_ts=at(65))
    pnl = _pnl(builder).section
    assert (pnl.fills, pnl.skipped_zero_quantity, pnl.skipped_missing_price, pnl.skipped_unknown_side) == (
        2,
        2,
        1,
        1,
    )
    assert pnl.realized == _d("2")


def test_costs_commission_bps_and_fee_per_fill(builder: RunBuilder) -> None:
    builder.manifest["reporting"] = {"commission_bps": "1.5", "per_trade_fee": "0.35"}
    builder.trade("buy", "10", "100", fill_ts=at(60))
    builder.trade("sell", "10", "101", fill_ts=at(120))
    pnl = _pnl(builder).section
    # notional 1000 + 1010 = 2010; × 1.5 / 10⁴ = 0.3015; fees 2 × 0.35 = 0.70
    assert pnl.commission == _d("0.3015")
    assert pnl.fees == _d("0.7")
    assert pnl.costs == _d("1.0015")
    assert pnl.net == _d("8.9985")


def test_mark_falls_back_to_last_fill(builder: RunBuilder) -> None:
    builder.trade("buy", "1", "10", fill_ts=at(60))
    builder.trade("buy", "1", "11", fill_ts=at(120))
    pnl = _pnl(builder).section
    assert pnl.unrealized == _d("1")
    assert _symbol(pnl, "NVDA")["mark_source"] == "last_fill"


def test_equity_curve_and_drawdown(builder: RunBuilder) -> None:
    builder.trade("buy", "1", "10", fill_ts=at(30))
    builder.trade("buy", "1", "14", fill_ts=at(90))  # marks first lot at 14: equity 4
    builder.trade("sell", "2", "9", fill_ts=at(150))  # realized −1 −5 = −6: equity −6
    result = _pnl(builder)
    curve = result.equity_curve
    assert curve.height == 391  # 390 session minutes plus the closing mark
    equity = curve["equity_net"].cast(pl.String).str.replace(r"\.?0+$", "").to_list()
    assert equity[:4] == ["0", "4", "-6", "-6"]
    assert result.section.max_drawdown == _d("10")
    assert result.section.max_drawdown_at == "2026-03-06T14:32:00Z"
    assert result.section.peak_gross_exposure == _d("28")
    assert result.section.equity_curve_points == 391


def test_no_executions_gives_zeros(builder: RunBuilder) -> None:
    pnl = _pnl(builder).section
    assert (pnl.fills, pnl.realized, pnl.gross, pnl.max_drawdown, pnl.win_rate) == (0, 0, 0, 0, None)
    assert pnl.by_symbol == []


def test_tca_shortfall_proxy(builder: RunBuilder) -> None:
    decision = builder.decision()
    execution = builder.execution(decision, "buy", "1", "10")
    builder.tca(execution, decision, shortfall="0.25")
    builder.tca(execution, decision, shortfall="0.5")
    proxy = _pnl(builder).section.tca_proxy
    assert (proxy.rows, proxy.shortfall_notional, proxy.realized_pnl_proxy_notional) == (
        2,
        _d("0.75"),
        _d("-0.75"),
    )


def test_exactness_beyond_float(builder: RunBuilder) -> None:
    for _ in range(10):
        builder.trade("buy", "0.1", "0.1")
    builder.trade("sell", "1", "0.3")
    pnl = _pnl(builder).section
    assert pnl.realized == _d("0.2")  # 1 × (0.3 − 0.1), exactly
