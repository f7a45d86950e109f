"""The reference TA: event-time 1-second microbars, lateness per partition, indicators and quotes."""

from __future__ import annotations

import logging
import math

import orjson
from confluent_kafka import TopicPartition

from torghut_sim.devstack.market_walk import iso_ms
from torghut_sim.devstack.refruntime.settings import LocalEndpoints, TaSettings
from torghut_sim.devstack.refruntime.ta import TaEngine, bars_and_signals
from torghut_sim.devstack.refruntime.ta_records import parse_quote, parse_trade
from torghut_sim.devstack.refruntime.ta_worker import BACKLOG_PATIENCE_SECONDS, TaWorker

T0 = 1_772_807_400_000  # 2026-03-06 14:30:00Z


def trade(ms: int, price: float, size: float = 10, symbol: str = "NVDA") -> bytes:
    return orjson.dumps(
        {
            "symbol": symbol,
            "event_ts": iso_ms(ms),
            "payload": {"i": 1, "p": price, "s": size, "t": iso_ms(ms)},
        }
    )


def quote(ms: int, bid: float, ask: float, symbol: str = "NVDA") -> bytes:
    return orjson.dumps(
        {
            "symbol": symbol,
            "event_ts": iso_ms(ms),
            "payload": {"bp": bid, "bs": 300, "ap": ask, "as": 100, "t": iso_ms(ms)},
        }
    )


def test_trades_fold_into_one_bar_per_second_with_ohlc_volume_vwap_count() -> None:
    pairs = bars_and_signals(
        [
            ("p", trade(T0 + 100, 10, 1)),
            ("p", trade(T0 + 500, 12, 3)),
            ("p", trade(T0 + 900, 9, 1)),
            ("p", trade(T0 + 1200, 11, 2)),
        ]
    )
    bars = [bar for bar, _ in pairs]
    assert [(b.start_ms, b.o, b.h, b.low, b.c, b.v, b.count) for b in bars] == [
        (T0, 10, 12, 9, 9, 5, 3),
        (T0 + 1000, 11, 11, 11, 11, 2, 1),
    ]
    assert math.isclose(bars[0].vwap or 0, (10 + 36 + 9) / 5)
    assert [b.seq for b in bars] == [1, 2] and bars[0].end_ms == T0 + 1000


def test_out_of_order_within_tolerance_is_kept_and_beyond_it_is_dropped_as_late() -> None:
    engine = TaEngine(max_out_of_order_ms=2000)
    engine.add_trade("p", trade(T0 + 5000, 10), 0.0)
    engine.add_trade("p", trade(T0 + 3500, 11), 0.0)  # 1.5 s behind: within tolerance
    engine.add_trade("p", trade(T0 + 1000, 12), 0.0)  # 4 s behind: late
    assert engine.stats.late == 1 and engine.stats.trades == 2
    assert [b.start_ms for b, _ in engine.flush_all()] == [T0 + 3000, T0 + 5000]


def test_emission_waits_for_the_slowest_partition_so_interleaving_does_not_matter() -> None:
    a = [("a", trade(T0 + i * 700, 10 + i % 3)) for i in range(40)]
    b = [("b", trade(T0 + i * 900, 20 + i % 5, symbol="AMD")) for i in range(40)]
    first = bars_and_signals(a + b)
    second = bars_and_signals([x for pair in zip(b, a, strict=True) for x in pair])
    assert first == second and len(first) > 40
    engine = TaEngine()
    for item in a:
        engine.add_trade(*item, 0.0)
    engine.add_trade("b", trade(T0, 20, symbol="AMD"), 0.0)
    # Partition b has only reached T0, so nothing beyond T0 - 2 s may close yet.
    assert engine.advance(0.0) == []


def test_idle_partitions_stop_holding_the_watermark_and_all_idle_flushes() -> None:
    engine = TaEngine(idle_seconds=5)
    engine.add_trade("a", trade(T0 + 10_000, 10), now=0.0)
    engine.add_trade("b", trade(T0, 20, symbol="AMD"), now=0.0)
    engine.add_trade("a", trade(T0 + 20_000, 10), now=4.0)
    assert [b.symbol for b, _ in engine.advance(now=6.0)] == ["AMD", "NVDA"]  # b idle, a still active
    assert [b.start_ms for b, _ in engine.advance(now=10.0)] == [T0 + 20_000]  # everything idle


def test_malformed_values_are_counted_not_fatal() -> None:
    engine = TaEngine()
    for value in (
        b"{not json",
        b"",
        None,
        orjson.dumps({"symbol": "X", "event_ts": iso_ms(T0)}),
        orjson.dumps({"symbol": "X", "event_ts": iso_ms(T0), "payload": {"p": "NaN", "s": -1}}),
    ):
        engine.add_trade("p", value, 0.0)
    engine.add_quote("p", orjson.dumps({"symbol": "X", "event_ts": "x", "payload": {}}), 0.0)
    assert engine.stats.malformed == 6 and engine.flush_all() == []
    assert parse_trade(trade(T0, 1.5)) is not None and parse_quote(quote(T0, 2.0, 1.0)) is None


def test_indicators_warm_up_then_follow_the_closes() -> None:
    closes = [100 + i for i in range(30)]
    pairs = bars_and_signals([("p", trade(T0 + i * 1000 + 1, c)) for i, c in enumerate(closes)])
    signals = [s for _, s in pairs]
    assert signals[0].values["ema12"] == 100 and signals[0].values["rsi14"] is None
    assert signals[13].values["rsi14"] is None and signals[14].values["rsi14"] == 100.0
    assert signals[18].values["boll_mid"] is None and signals[19].values["boll_mid"] == sum(closes[:20]) / 20
    assert all((s.values["macd_hist"] or 0) > 0 for s in signals[1:])  # a steady rise: MACD above signal
    assert signals[-1].values["vwap_session"] == sum(closes) / len(closes)
    assert signals[-1].values["vol_realized_w60s"] is not None


def test_the_quote_in_force_at_a_bar_end_sets_the_imbalance_and_goes_stale() -> None:
    pairs = bars_and_signals(
        [("t", trade(T0 + 100, 10)), ("t", trade(T0 + 30_100, 10))],
        [("q", quote(T0 + 50, 9.98, 10.02)), ("q", quote(T0 + 2000, 9.0, 11.0))],
        quote_stale_ms=15_000,
    )
    first, later = pairs[0][1], pairs[1][1]
    assert math.isclose(first.values["imbalance_spread"] or 0, 0.04)
    assert first.bid_sz == 300 and first.ask_sz == 100
    assert orjson.loads(first.microstructure or "{}")["book_imbalance"] == 0.5
    assert later.values["imbalance_spread"] is None and later.microstructure is None


def test_event_times_parse_in_the_feed_form_and_with_offsets() -> None:
    from torghut_sim.devstack.refruntime.ta_records import parse_iso_ms

    assert parse_iso_ms("2026-03-06T14:30:00.007Z") == T0 + 7
    assert parse_iso_ms("2026-03-06T09:30:00.007-05:00") == T0 + 7
    assert parse_iso_ms("2026-03-06T14:30:01Z") == T0 + 1000


def test_a_partition_that_never_delivered_holds_the_watermark_until_everything_is_idle() -> None:
    engine = TaEngine(idle_seconds=5)
    engine.expect("late-starter", now=0.0)
    engine.add_trade("a", trade(T0 + 10_000, 10), now=8.0)
    assert engine.advance(now=9.0) == []  # the assigned partition may still bring earlier records
    engine.add_trade("late-starter", trade(T0, 20, symbol="AMD"), now=9.5)
    assert engine.stats.late == 0
    assert [b.symbol for b, _ in engine.advance(now=20.0)] == ["AMD", "NVDA"]


def test_records_are_reflected_once_their_bar_is_emitted_and_all_once_drained() -> None:
    engine = TaEngine(max_out_of_order_ms=0, idle_seconds=5.0)
    engine.expect("p", 0.0)
    trade_at = engine.add_trade("p", trade(T0 + 200, 10), 0.0)
    quote_at = engine.add_quote("p", quote(T0 + 1500, 9.9, 10.1), 0.0)
    assert trade_at == T0 + 1000 and quote_at == T0 + 1501
    assert engine.add_trade("p", b"not json", 0.0) is None and engine.reflected(None)
    assert not engine.reflected(trade_at)
    engine.advance(0.0)  # the watermark (T0 + 1500) closes the first second only
    assert engine.reflected(trade_at) and not engine.reflected(quote_at)
    assert not engine.drained(1.0)
    engine.advance(10.0)  # every partition idle: everything open is emitted
    assert engine.drained(10.0)


def _starved(backlog: set[str]) -> TaEngine:
    """Partition "b" delivered up to T0+2s, then stayed silent while "a" ran to T0+10s."""
    engine = TaEngine(max_out_of_order_ms=0, idle_seconds=3)
    engine.expect("a", 0.0)
    engine.expect("b", 0.0)
    engine.add_trade("b", trade(T0 + 2_000, 20, symbol="AMD"), now=0.0)
    engine.add_trade("a", trade(T0 + 10_000, 10), now=5.0)
    engine.advance(now=5.0, backlog=backlog)
    engine.add_trade("b", trade(T0 + 3_000, 21, symbol="AMD"), now=5.5)
    return engine


def test_a_silent_partition_with_unread_records_holds_the_watermark() -> None:
    engine = _starved(backlog={"b"})
    # "b" was silent for 5 s, but only because its records were still waiting to be read.
    assert engine.watermark(now=5.5, backlog={"b"}) == T0 + 3_000
    assert engine.stats.late == 0
    assert not engine.idle(now=100.0, backlog={"b"})
    assert engine.idle(now=100.0)
    bars = engine.advance(now=100.0)
    assert [(b.symbol, b.start_ms) for b, _ in bars] == [
        ("AMD", T0 + 2_000),
        ("AMD", T0 + 3_000),
        ("NVDA", T0 + 10_000),
    ]


def test_a_silent_partition_read_to_its_end_stops_holding_the_watermark() -> None:
    # The same stream with "b" read to its end: it is idle, the watermark passes it, its next record is late.
    engine = _starved(backlog=set())
    assert engine.stats.late == 1
    assert engine.emitted_upto == T0 + 10_000


class _Watermarks:
    """A consumer stand-in that answers cached high watermarks."""

    def __init__(self, highs: dict[tuple[str, int], int]) -> None:
        self.highs = highs
        self.asked: list[tuple[str, int, bool]] = []

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        self.asked.append((tp.topic, tp.partition, cached))
        return 0, self.highs.get((tp.topic, tp.partition), -1001)


def test_the_worker_reports_partitions_whose_fetched_end_is_past_what_it_consumed() -> None:
    settings = TaSettings(
        "trades", "quotes", None, None, None, "g", "latest", "torghut_sim_x", 2000, 15_000, 300, 60
    )
    endpoints = LocalEndpoints("127.0.0.1:1", "127.0.0.1", 1, "u", "p", "unused")
    worker = TaWorker(settings, endpoints, None, logging.getLogger("test"))
    worker.consumer = _Watermarks({("trades", 0): 120, ("trades", 1): 80, ("quotes", 0): 500})
    worker.consumed_to = {("trades", 0): 100, ("trades", 1): 80, ("quotes", 0): 400}
    now = 1_000.0
    worker.engine.partition_seen_at = {
        ("trades", 0): now - 5,
        ("trades", 1): now - 5,
        # Silent longer than the patience: its backlog is no longer trusted.
        ("quotes", 0): now - BACKLOG_PATIENCE_SECONDS - 1,
    }
    assert worker.backlog(now) == {("trades", 0)}
    assert all(cached for _, _, cached in worker.consumer.asked)  # never a broker round trip per cycle
