"""Technical analysis by event time, pure: 1-second microbars and their signals from trades and quotes.

Event time is the envelope's `event_ts`. Lateness is judged per input partition (a record more than
`max_out_of_order_ms` behind its own partition's maximum is dropped), and a second is emitted once the
watermark — the minimum over active partitions of (max event time − allowed disorder) — has passed it.
Both rules depend only on each partition's own order, so the same topics give the same bars and signals
however the consumer interleaves partitions. Partitions that delivered and then stayed silent for
`idle_seconds` stop holding the watermark back (one that never delivered always holds it); once every
partition is silent, everything open is emitted (end of stream). A partition the consumer has not read
to its end (its backlog, told by the caller) is never idle: it was silent because the consumer was busy,
not because its input stopped, and passing it would drop its records as late.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from torghut_sim.devstack.refruntime.ta_indicators import SECOND_MS, Indicators, Microbar, Signal
from torghut_sim.devstack.refruntime.ta_records import Quote, parse_quote, parse_trade

_NEG_INF = -(2**62)


@dataclass
class _OpenBar:
    o: float
    h: float
    low: float
    c: float
    v: float = 0.0
    pv: float = 0.0
    count: int = 0


@dataclass
class _Symbol:
    """Open bars, pending quotes and indicator state of one symbol."""

    indicators: Indicators
    bars: dict[int, _OpenBar] = field(default_factory=dict)
    bar_keys: list[int] = field(default_factory=list)
    quotes: list[tuple[int, int, Quote]] = field(default_factory=list)
    quote: Quote | None = None
    seq: int = 0


@dataclass
class TaStats:
    """Counts of what the engine saw."""

    trades: int = 0
    quotes: int = 0
    malformed: int = 0
    late: int = 0
    bars: int = 0


class TaEngine:
    """Event-time microbars and signals over any number of input partitions."""

    def __init__(
        self,
        max_out_of_order_ms: int = 2000,
        quote_stale_ms: int = 15_000,
        vwap_window_s: int = 300,
        vol_window_s: int = 60,
        idle_seconds: float = 5.0,
    ) -> None:
        self.max_ooo = max_out_of_order_ms
        self.quote_stale_ms = quote_stale_ms
        self.vwap_window_ms = vwap_window_s * SECOND_MS
        self.vol_window_ms = vol_window_s * SECOND_MS
        self.idle_seconds = idle_seconds
        self.symbols: dict[str, _Symbol] = {}
        self.partition_max: dict[Hashable, int] = {}
        self.partition_seen_at: dict[Hashable, float] = {}
        self.emitted_upto = _NEG_INF
        self.stats = TaStats()
        self._tiebreak = 0

    def _symbol(self, symbol: str) -> _Symbol:
        state = self.symbols.get(symbol)
        if state is None:
            state = _Symbol(Indicators(self.vwap_window_ms, self.vol_window_ms))
            self.symbols[symbol] = state
        return state

    def expect(self, partition: Hashable, now: float) -> None:
        """Register an assigned partition: it holds the watermark back until it delivers or goes idle."""
        # Without this, the first partition a consumer hears from would race ahead of the others and
        # their earlier records would be dropped as late, differently on every run.
        if partition not in self.partition_max:
            self.partition_max[partition] = _NEG_INF
            self.partition_seen_at[partition] = now

    def _admit(self, partition: Hashable, ts_ms: int, now: float) -> bool:
        """Track the partition's progress; False when the record is late for its own partition."""
        self.partition_seen_at[partition] = now
        high = self.partition_max.get(partition, _NEG_INF)
        if ts_ms < high - self.max_ooo or ts_ms < self.emitted_upto:
            self.stats.late += 1
            return False
        if ts_ms > high:
            self.partition_max[partition] = ts_ms
        return True

    def add_trade(self, partition: Hashable, value: bytes | None, now: float) -> int | None:
        """Fold one trades-topic record in (malformed and late ones are counted and dropped).

        Returns the event time the output must be emitted up to before the record is reflected in it
        (its bar's end), or None when the record was dropped.
        """
        trade = parse_trade(value)
        if trade is None:
            self.stats.malformed += 1
            return None
        if not self._admit(partition, trade.ts_ms, now):
            return None
        self.stats.trades += 1
        state = self._symbol(trade.symbol)
        start = trade.ts_ms - trade.ts_ms % SECOND_MS
        bar = state.bars.get(start)
        if bar is None:
            state.bars[start] = _OpenBar(trade.price, trade.price, trade.price, trade.price)
            heapq.heappush(state.bar_keys, start)
            bar = state.bars[start]
        else:
            bar.h, bar.low, bar.c = max(bar.h, trade.price), min(bar.low, trade.price), trade.price
        bar.v += trade.size
        bar.pv += trade.price * trade.size
        bar.count += 1
        return start + SECOND_MS

    def add_quote(self, partition: Hashable, value: bytes | None, now: float) -> int | None:
        """Fold one quotes-topic record in; it takes effect for bars ending after its event time.

        Returns the event time the output must be emitted up to before the quote is folded in (see
        `add_trade`), or None when it was dropped.
        """
        quote = parse_quote(value)
        if quote is None:
            self.stats.malformed += 1
            return None
        if not self._admit(partition, quote.ts_ms, now):
            return None
        self.stats.quotes += 1
        self._tiebreak += 1
        heapq.heappush(self._symbol(quote.symbol).quotes, (quote.ts_ms, self._tiebreak, quote))
        return quote.ts_ms + 1

    def reflected(self, emit_at: int | None) -> bool:
        """True when a record that returned `emit_at` is reflected in what was emitted so far."""
        return emit_at is None or emit_at <= self.emitted_upto

    def _silent(self, partition: Hashable, now: float, backlog: Collection[Hashable]) -> bool:
        """Whether the partition has been silent for `idle_seconds` with nothing left to read."""
        seen = self.partition_seen_at.get(partition, now)
        return now - seen >= self.idle_seconds and partition not in backlog

    def watermark(self, now: float, backlog: Collection[Hashable] = ()) -> int:
        """Event time up to which every second is complete (idle partitions do not hold it back)."""
        # A partition that has delivered nothing yet always holds the watermark back: declaring it idle
        # would drop its records as late whenever it happens to start later than the others.
        active = [
            high
            for p, high in self.partition_max.items()
            if high == _NEG_INF or not self._silent(p, now, backlog)
        ]
        if not active:
            return self.emitted_upto
        return max(self.emitted_upto, min(active) - self.max_ooo)

    def idle(self, now: float, backlog: Collection[Hashable] = ()) -> bool:
        """True when input was seen and every partition is silent for `idle_seconds` and read to its end."""
        return bool(self.partition_max) and all(self._silent(p, now, backlog) for p in self.partition_seen_at)

    def drained(self, now: float, backlog: Collection[Hashable] = ()) -> bool:
        """True when all input is idle and every bar is emitted: nothing consumed can change the output."""
        # Quotes later than the last bar are held for bars that may never come; at the end of the stream
        # they are part of no output, so they must not hold back the consumed offsets either.
        return self.idle(now, backlog) and not any(state.bars for state in self.symbols.values())

    def advance(self, now: float, backlog: Collection[Hashable] = ()) -> list[tuple[Microbar, Signal]]:
        """Close every second the watermark has passed; everything once all input is idle.

        `backlog`: the partitions that hold records the consumer has not read yet."""
        if self.idle(now, backlog):
            return self.flush_all()
        return self._emit_until(self.watermark(now, backlog))

    def flush_all(self) -> list[tuple[Microbar, Signal]]:
        """Close every open second (end of stream)."""
        upto = max((max(s.bars) + SECOND_MS for s in self.symbols.values() if s.bars), default=_NEG_INF)
        return self._emit_until(max(upto, self.emitted_upto))

    def _emit_until(self, watermark: int) -> list[tuple[Microbar, Signal]]:
        out: list[tuple[Microbar, Signal]] = []
        for symbol in sorted(self.symbols):
            state = self.symbols[symbol]
            while state.bar_keys and state.bar_keys[0] + SECOND_MS <= watermark:
                start = heapq.heappop(state.bar_keys)
                out.append(self._close(symbol, state, start, state.bars.pop(start)))
            # Quotes before the watermark can only matter to later bars: fold them in now so a symbol
            # without trades does not accumulate them.
            while state.quotes and state.quotes[0][0] < watermark:
                state.quote = heapq.heappop(state.quotes)[2]
        self.emitted_upto = max(self.emitted_upto, watermark)
        out.sort(key=lambda pair: (pair[0].end_ms, pair[0].symbol))
        self.stats.bars += len(out)
        return out

    def _close(self, symbol: str, state: _Symbol, start: int, bar: _OpenBar) -> tuple[Microbar, Signal]:
        end = start + SECOND_MS
        while state.quotes and state.quotes[0][0] < end:
            state.quote = heapq.heappop(state.quotes)[2]
        state.seq += 1
        micro = Microbar(
            symbol,
            start,
            state.seq,
            bar.o,
            bar.h,
            bar.low,
            bar.c,
            bar.v,
            bar.pv / bar.v if bar.v > 0 else None,
            bar.count,
        )
        values: dict[str, float | None] = state.indicators.update(micro)
        quote = state.quote
        bid_sz = ask_sz = None
        micro_json: str | None = None
        if quote is not None and end - quote.ts_ms <= self.quote_stale_ms:
            mid = (quote.bid_px + quote.ask_px) / 2
            values.update(
                {
                    "imbalance_spread": quote.ask_px - quote.bid_px,
                    "imbalance_bid_px": quote.bid_px,
                    "imbalance_ask_px": quote.ask_px,
                }
            )
            bid_sz, ask_sz = quote.bid_sz, quote.ask_sz
            book = (bid_sz - ask_sz) / (bid_sz + ask_sz) if bid_sz + ask_sz else 0.0
            micro_json = orjson.dumps(
                {
                    "spread_bps": round((quote.ask_px - quote.bid_px) / mid * 10_000, 4),
                    "book_imbalance": round(book, 6),
                    "trades": bar.count,
                },
                option=orjson.OPT_SORT_KEYS,
            ).decode()
        else:
            values.update({"imbalance_spread": None, "imbalance_bid_px": None, "imbalance_ask_px": None})
        signal = Signal(symbol, end, state.seq, values, bid_sz, ask_sz, micro_json)
        return micro, signal


def bars_and_signals(
    trades: Iterable[tuple[Hashable, bytes]],
    quotes: Iterable[tuple[Hashable, bytes]] = (),
    **engine_args: Any,
) -> list[tuple[Microbar, Signal]]:
    """Run a whole finite stream through a fresh engine (quotes first, then trades) and flush it."""
    engine = TaEngine(**engine_args)
    trades, quotes = list(trades), list(quotes)
    for partition, _ in [*trades, *quotes]:
        engine.expect(partition, 0.0)
    out: list[tuple[Microbar, Signal]] = []
    for partition, value in quotes:
        engine.add_quote(partition, value, 0.0)
    for partition, value in trades:
        engine.add_trade(partition, value, 0.0)
        out += engine.advance(0.0)
    return out + engine.flush_all()
