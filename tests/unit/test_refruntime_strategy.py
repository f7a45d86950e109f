"""The reference Torghut strategy and its simulated world: crossovers, limits, reviews, fills, TCA."""

from __future__ import annotations

from collections import Counter

from torghut_sim.devstack.refruntime.strategy import (
    EXECUTING_VERDICTS,
    Intent,
    MacdRsiStrategy,
    SignalPoint,
    StrategyConfig,
    decide,
    simulate_fill,
    tca,
)


def point(ms: int, hist: float, rsi: float = 50.0, price: float = 100.0, symbol: str = "NVDA") -> SignalPoint:
    return SignalPoint(symbol, ms, ms // 1000, price, hist, rsi)


def test_crossings_go_long_then_short_within_the_position_cap() -> None:
    strategy = MacdRsiStrategy(StrategyConfig(order_notional=1000, max_position_notional=1000, cooldown_ms=0))
    assert strategy.on_signal(point(1000, -0.1)) is None  # first sight: no previous histogram
    up = strategy.on_signal(point(2000, 0.1))
    assert up is not None and (up.side, up.qty, up.target) == ("buy", 10, 10)
    strategy.on_fill("NVDA", up.side, up.qty)
    assert strategy.on_signal(point(3000, 0.2)) is None  # no new crossing
    down = strategy.on_signal(point(4000, -0.1))
    assert down is not None and (down.side, down.qty, down.target) == ("sell", 20, -10)


def test_filters_overbought_cooldown_noise_and_shorts() -> None:
    strategy = MacdRsiStrategy(StrategyConfig(cooldown_ms=60_000, allow_shorts=False))
    strategy.on_signal(point(0, -0.1))
    assert strategy.on_signal(point(1000, 0.1, rsi=80)) is None  # overbought
    strategy.on_signal(point(2000, -0.1))
    assert strategy.on_signal(point(3000, 0.1)) is not None
    strategy.on_signal(point(4000, -0.1))
    assert strategy.on_signal(point(5000, 0.1)) is None  # cooldown
    strategy.on_signal(point(70_000, 0.0001))  # below the noise floor
    assert strategy.on_signal(point(80_000, -0.1)) is None  # flat and no shorts: nothing to sell


def _intent(seq: int) -> Intent:
    return Intent(point(seq * 1000, 0.1), "buy", 100, 100, "macd_hist_cross_up")


def test_outcomes_are_a_function_of_the_signal_and_ids_of_the_run() -> None:
    a, b = decide(_intent(7), "sim-a", "m", "v1"), decide(_intent(7), "sim-b", "m", "v1")
    assert a.decision_id != b.decision_id
    assert (a.review, a.fill, a.decision_ms, a.decision_status) == (
        b.review,
        b.fill,
        b.decision_ms,
        b.decision_status,
    )
    assert decide(_intent(7), "sim-a", "m", "v1") == a


def test_the_verdict_and_fill_mix_covers_every_case() -> None:
    outcomes = [decide(_intent(i), "sim", "m", "v1") for i in range(2000)]
    verdicts = Counter(o.review.verdict for o in outcomes)
    assert set(verdicts) == {"approve", "veto", "adjust", "abstain", "escalate", "error"}
    assert 0.01 < verdicts["error"] / 2000 < 0.05
    fills = Counter(o.fill.status for o in outcomes if o.fill is not None)
    assert set(fills) == {"filled", "partially_filled", "canceled", "rejected"}
    for o in outcomes:
        assert (o.fill is not None) == (o.review.verdict in EXECUTING_VERDICTS)
        assert o.review.at_ms > o.decision_ms > o.review.at_ms - 3000
        if o.review.verdict == "error":
            assert o.review.confidence is None and o.review.tokens_completion == 0
        if o.fill is not None:
            assert o.fill.events[0].event_type == "new"
            assert o.fill.submitted_ms < o.fill.events[0].at_ms < o.fill.events[-1].at_ms


def test_partial_fills_fill_less_than_submitted_and_rejects_fill_nothing() -> None:
    fills = [simulate_fill(f"k{i}", "sell", 100, 50.0, 0.02, 0) for i in range(500)]
    partial = [f for f in fills if f.status == "partially_filled"]
    assert partial and all(0 < f.filled_qty < 100 for f in partial)
    unfilled = [f for f in fills if f.status in {"rejected", "canceled"}]
    assert unfilled and all(f.filled_qty == 0 and f.avg_fill_price is None for f in unfilled)
    # A sell pays the half spread: the fill is below arrival unless the slippage draw is favourable.
    assert sum(f.avg_fill_price < 50.0 for f in fills if f.avg_fill_price) > 0.8 * sum(
        1 for f in fills if f.avg_fill_price
    )


def test_tca_measures_shortfall_against_arrival() -> None:
    buy = tca("buy", 100.0, 100.05, 10, 10, 100.0)
    assert buy["slippage_bps"] == 5.0 and buy["shortfall_notional"] == 0.5 and buy["divergence_bps"] == 5.0
    sell = tca("sell", 100.0, 100.05, 5, 10, None)
    assert sell["slippage_bps"] == -5.0 and sell["divergence_bps"] is None
    assert sell["realized_shortfall_bps"] > sell["slippage_bps"]


def test_suppressed_crossovers_say_why() -> None:
    strategy = MacdRsiStrategy(
        StrategyConfig(
            order_notional=1000, max_position_notional=1000, cooldown_ms=60_000, allow_shorts=False
        )
    )
    strategy.on_signal(point(0, -0.1))
    assert strategy.suppressed is None  # no previous histogram: no crossover to suppress
    assert strategy.on_signal(point(1000, 0.1, rsi=80)) is None
    assert strategy.suppressed == "rsi_overbought"
    strategy.on_signal(point(2000, -0.1, rsi=20))
    assert strategy.suppressed == "rsi_oversold"
    up = strategy.on_signal(point(3000, 0.1))
    assert up is not None and strategy.suppressed is None
    strategy.on_fill("NVDA", up.side, up.qty)
    strategy.on_signal(point(4000, -0.1))
    assert strategy.suppressed == "cooldown_active"
    strategy.on_signal(point(5000, -0.2))  # no crossover inside the cooldown: nothing suppressed
    assert strategy.suppressed is None
    # Long at the cap already (10 × 100 = 1000): the next upward crossover has nothing left to buy.
    assert strategy.on_signal(point(71_000, 0.1)) is None
    assert strategy.suppressed == "position_limit_reached:long"


def test_refused_decisions_carry_their_reasons() -> None:
    outcomes = [decide(_intent(seq), "sim-a", "m", "v1") for seq in range(400)]
    by_verdict = {o.review.verdict: o for o in outcomes}
    veto, error = by_verdict["veto"], by_verdict["error"]
    assert veto.decision_status == "rejected" and veto.fill is None
    assert veto.not_executed["submission_stage"] == "rejected_pre_submit"
    assert (veto.not_executed["reject_class"], veto.not_executed["reject_origin"]) == ("policy", "llm_review")
    assert veto.not_executed["reject_reason_atomic"][0] == "llm_veto"
    assert veto.not_executed["risk_reasons"] == [";".join(veto.not_executed["reject_reason_atomic"])]
    assert error.not_executed["submission_stage"] == "rejected_handler_error"
    assert error.not_executed["reject_reason_atomic"] == ["llm_review_error:llm_timeout"]
    abstain, escalate = by_verdict["abstain"], by_verdict["escalate"]
    assert abstain.decision_status == escalate.decision_status == "blocked"
    assert abstain.not_executed == {
        "submission_block_reason": "capital_stage_shadow:llm_abstained",
        "submission_block_atomic": ["capital_stage_shadow:llm_abstained"],
        "submission_stage": "blocked_capital_stage_shadow",
    }
    assert escalate.not_executed["submission_stage"] == "blocked_strategy_capital_authority"
    broker = next(o for o in outcomes if o.fill is not None and o.fill.status == "rejected")
    assert broker.decision_status == "rejected"
    assert broker.not_executed["submission_stage"] == "rejected_submit"
    assert broker.not_executed["reject_reason_atomic"] == ["insufficient_buying_power"]
    executed = [o for o in outcomes if o.decision_status == "executed"]
    assert executed and all(o.not_executed == {} for o in executed)
