"""A seeded, streaming model of one historical market day: trades, quotes, 1-minute bars and heartbeats.

Pure: given the same `DaySpec` and session window it yields byte-identical records in the same order
(CONTRACTS §2 envelope, keyed by symbol), ordered as a live feed would produce them. Prices follow a
per-symbol random walk with slowly changing drift regimes, so indicators downstream see trends and
reversals. Knobs add what real feeds do: quiet gaps, records just outside the session, timestamps that
are not monotonic within a partition, and a few malformed values.
"""

from __future__ import annotations

import functools
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson

from torghut_sim.calendar import NEW_YORK, SessionWindow

LIVE_SYMBOLS: tuple[str, ...] = ("NVDA", "AVGO", "AMD", "MU", "MRVL", "CRDO", "COHR", "LITE", "SNDK", "WDC")
# Rough reference prices so the walk starts in a plausible range; unknown symbols get a hashed price.
_BASE_PRICES: dict[str, float] = {
    "NVDA": 182.0,
    "AVGO": 342.0,
    "AMD": 203.0,
    "MU": 121.0,
    "MRVL": 78.0,
    "CRDO": 118.0,
    "COHR": 97.0,
    "LITE": 151.0,
    "SNDK": 61.0,
    "WDC": 88.0,
}
ROLES: tuple[str, ...] = ("trades", "quotes", "bars", "status")
STATUS_KEY = b"torghut-ws"
# Daily volatility of ~2 % spread over the 23,400 seconds of a regular session.
_SIGMA_PER_SQRT_S = 0.02 / math.sqrt(23_400)
_REGIME_SECONDS = 900
_DRIFT_PER_S = 0.01 / 23_400 * 4
_JSON_OPTS = orjson.OPT_SORT_KEYS


@dataclass(frozen=True)
class Gap:
    """A quiet stretch without any market record: starts at a New York wall-clock time, lasts N minutes."""

    start: time
    minutes: int

    @classmethod
    def parse(cls, text: str) -> Gap:
        """`HH:MM/N` (New York time, minutes), e.g. `12:00/15`."""
        at, _, minutes = text.strip().partition("/")
        hour, _, minute = at.partition(":")
        return cls(time(int(hour), int(minute or 0)), int(minutes or 0))


@dataclass(frozen=True)
class DaySpec:
    """Everything that shapes a generated day; equal specs give identical records."""

    day: date
    symbols: tuple[str, ...] = LIVE_SYMBOLS
    trade_rate: float = 0.5
    quote_ratio: float = 0.7
    gaps: tuple[Gap, ...] = ()
    seed: int = 20260306
    edges: bool = True
    disorder: bool = True
    malformed: int = 5
    status_every_s: int = 10

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view for markers."""
        return {
            "day": self.day.isoformat(),
            "symbols": list(self.symbols),
            "trade_rate": self.trade_rate,
            "quote_ratio": self.quote_ratio,
            "gaps": [f"{g.start:%H:%M}/{g.minutes}" for g in self.gaps],
            "seed": self.seed,
            "edges": self.edges,
            "disorder": self.disorder,
            "malformed": self.malformed,
            "status_every_s": self.status_every_s,
        }


@dataclass(frozen=True)
class MarketRecord:
    """One record for a production source topic role: key, value and Kafka CreateTime (ms)."""

    role: str
    key: bytes
    value: bytes
    timestamp_ms: int


# An event before encoding: (event_ms, tie-breaker unique per stream, role, symbol, kafka_ms, body).
# A plain tuple keeps the k-way merge cheap; the first two fields always decide the order.
_Event = tuple[int, int, str, str, int, "dict[str, Any] | bytes"]


@functools.lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with millisecond precision and a `Z`."""
    # Records cluster within seconds, so the formatted second is cached; this runs ~5x per record.
    second, milli = divmod(ms, 1000)
    return f"{_iso_second(second)}.{milli:03d}Z"


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _gap_ranges(spec: DaySpec) -> list[tuple[int, int]]:
    """The quiet gaps as [start, end) epoch-ms ranges."""
    out = []
    for gap in spec.gaps:
        start = datetime.combine(spec.day, gap.start, tzinfo=NEW_YORK)
        out.append((_epoch_ms(start), _epoch_ms(start + timedelta(minutes=gap.minutes))))
    return out


def _in_gap(ms: int, gaps: list[tuple[int, int]]) -> bool:
    return any(start <= ms < end for start, end in gaps)


def base_price(symbol: str, seed: int) -> float:
    """The opening reference price of a symbol."""
    if symbol in _BASE_PRICES:
        return _BASE_PRICES[symbol]
    return 20.0 + random.Random(f"{seed}:base:{symbol}").random() * 200.0


def _envelope(
    channel: str,
    symbol: str,
    seq: int,
    event_ms: int,
    kafka_ms: int,
    payload: dict[str, Any],
    window: dict[str, Any],
) -> dict[str, Any]:
    return {
        "ingest_ts": iso_ms(kafka_ms),
        "event_ts": iso_ms(event_ms),
        "feed": "iex",
        "channel": channel,
        "symbol": symbol,
        "seq": seq,
        "is_final": True,
        "source": "ws",
        "window": window,
        "payload": payload,
        "version": 1,
    }


def _tick_window(ms: int) -> dict[str, Any]:
    iso = iso_ms(ms)
    return {"size": "PT0S", "step": "PT0S", "start": iso, "end": iso}


def _symbol_events(spec: DaySpec, window: SessionWindow, symbol: str, index: int) -> Iterator[_Event]:
    """Trades, quotes and 1-minute bars of one symbol, in event-time order."""
    return _SymbolWalk(spec, window, symbol, index).events()


class _SymbolWalk:
    """One symbol's random walk through the session; its seeded draws come in a fixed order."""

    def __init__(self, spec: DaySpec, window: SessionWindow, symbol: str, index: int) -> None:
        self.spec, self.symbol = spec, symbol
        self.rng = random.Random(f"{spec.seed}:{symbol}")
        self.start_ms, self.end_ms = _epoch_ms(window.session_start), _epoch_ms(window.session_end)
        self.gaps = _gap_ranges(spec)
        self.trade_rate = max(spec.trade_rate, 1e-6)
        self.total_rate = self.trade_rate + self.trade_rate * spec.quote_ratio
        self.price = base_price(symbol, spec.seed)
        self.drift = 0.0
        self.regime_end = self.start_ms
        self.seq = {"trades": 0, "quotes": 0, "bars": 0}
        self.trade_id = 10_000_000 * (index + 1)
        self.bar: list[float] | None = None  # o, h, l, c, v
        self.last_ms = self.start_ms
        self.order = index * 4

    def events(self) -> Iterator[_Event]:
        """Every event of the walk; a bar is published when its minute ends."""
        rng = self.rng
        minute = self.start_ms // 60_000
        now = self.start_ms + int(rng.random() * 1000)
        while now < self.end_ms:
            if now // 60_000 != minute:
                yield from self.flush_bar(minute)
                minute = now // 60_000
            self.move_price(now)
            is_trade = rng.random() < self.trade_rate / self.total_rate
            if not _in_gap(now, self.gaps):
                kafka_ms = now + self.latency()
                yield self.trade(now, kafka_ms) if is_trade else self.quote(now, kafka_ms)
            now += max(1, int(rng.expovariate(self.total_rate) * 1000))
        yield from self.flush_bar(minute)

    def latency(self) -> int:
        """Milliseconds between the event and its Kafka timestamp (random with disorder, else fixed)."""
        return 3 + int(self.rng.random() * 37) if self.spec.disorder else 5

    def move_price(self, now: int) -> None:
        """Advance the price to `now`: a drift regime that changes now and then, plus noise."""
        rng = self.rng
        if now >= self.regime_end:
            self.drift = rng.uniform(-1.0, 1.0) * _DRIFT_PER_S
            self.regime_end = now + int(_REGIME_SECONDS * 1000 * (0.5 + rng.random()))
        dt = max(now - self.last_ms, 1) / 1000.0
        self.last_ms = now
        self.price *= math.exp(self.drift * dt + _SIGMA_PER_SQRT_S * math.sqrt(dt) * rng.gauss(0.0, 1.0))
        self.price = max(self.price, 1.0)

    def trade(self, now: int, kafka_ms: int) -> _Event:
        """A trade at the current price; it also extends the minute's bar."""
        self.trade_id += 1
        size = max(1, int(self.rng.paretovariate(1.6) * 20))
        px = round(self.price, 2)
        self.seq["trades"] += 1
        payload = {"i": self.trade_id, "p": px, "s": size, "t": iso_ms(now)}
        body = _envelope("trades", self.symbol, self.seq["trades"], now, kafka_ms, payload, _tick_window(now))
        bar = self.bar
        if bar is None:
            self.bar = [px, px, px, px, float(size)]
        else:
            bar[1], bar[2], bar[3] = max(bar[1], px), min(bar[2], px), px
            bar[4] += size
        return (now, self.order, "trades", self.symbol, kafka_ms, body)

    def quote(self, now: int, kafka_ms: int) -> _Event:
        """A quote around the current price."""
        rng = self.rng
        half = max(0.005, self.price * rng.uniform(0.5, 3.0) / 10_000)
        self.seq["quotes"] += 1
        payload = {
            "bp": round(self.price - half, 2),
            "bs": 100 * rng.randint(1, 12),
            "ap": round(self.price + half, 2),
            "as": 100 * rng.randint(1, 12),
            "t": iso_ms(now),
        }
        body = _envelope("quotes", self.symbol, self.seq["quotes"], now, kafka_ms, payload, _tick_window(now))
        return (now, self.order + 1, "quotes", self.symbol, kafka_ms, body)

    def flush_bar(self, upto_minute: int) -> Iterator[_Event]:
        """The bar of a finished minute, if it had trades."""
        bar = self.bar
        if bar is None:
            return
        o, h, lo, c, v = bar
        self.bar = None
        bar_start = upto_minute * 60_000
        event_ms = bar_start + 60_000 - 1
        self.seq["bars"] += 1
        payload = {"o": o, "h": h, "l": lo, "c": c, "v": v, "t": iso_ms(bar_start), "is_final": True}
        win = {"size": "PT1M", "step": "PT1M", "start": iso_ms(bar_start), "end": iso_ms(bar_start + 60_000)}
        # Published in the last millisecond of its minute, so a minute's bar stays inside that minute.
        body = _envelope("bars", self.symbol, self.seq["bars"], event_ms, event_ms, payload, win)
        yield (event_ms, self.order + 2, "bars", self.symbol, event_ms, body)


def _status_events(spec: DaySpec, window: SessionWindow) -> Iterator[_Event]:
    """Feed heartbeats every `status_every_s` seconds through the session."""
    start_ms, end_ms = _epoch_ms(window.session_start), _epoch_ms(window.session_end)
    step = max(1, spec.status_every_s) * 1000
    for count, ms in enumerate(range(start_ms, end_ms, step), start=1):
        payload = {"type": "heartbeat", "status": "ok", "symbols": len(spec.symbols), "beat": count}
        body = _envelope("status", "", count, ms, ms, payload, _tick_window(ms))
        yield (ms, 1_000_000, "status", "", ms, body)


def _edge_events(spec: DaySpec, window: SessionWindow) -> Iterator[_Event]:
    """Trades just before the open and at/after the close: a correct window must leave them out."""
    symbol = spec.symbols[0]
    start_ms, end_ms = _epoch_ms(window.session_start), _epoch_ms(window.session_end)
    price = round(base_price(symbol, spec.seed), 2)
    for n, ms in enumerate((start_ms - 3, start_ms - 1, end_ms, end_ms + 2)):
        payload = {"i": 1 + n, "p": price, "s": 1, "t": iso_ms(ms)}
        body = _envelope("trades", symbol, 0, ms, ms, payload, _tick_window(ms))
        yield (ms, 2_000_000 + n, "trades", symbol, ms, body)


def _malformed_events(spec: DaySpec, window: SessionWindow) -> Iterator[_Event]:
    """A few records a consumer must survive: truncated JSON, bad numbers, missing payload."""
    rng = random.Random(f"{spec.seed}:malformed")
    start_ms, end_ms = _epoch_ms(window.session_start), _epoch_ms(window.session_end)
    span = end_ms - start_ms
    for n in range(spec.malformed):
        ms = start_ms + span * (n + 1) // (spec.malformed + 1)
        symbol = spec.symbols[rng.randrange(len(spec.symbols))]
        kind = n % 4
        body: dict[str, Any] | bytes
        if kind == 0:
            body = b'{"symbol": "' + symbol.encode() + b'", "payload": {"p": 1'
        elif kind == 1:
            body = _envelope("trades", symbol, 0, ms, ms, {"i": 0, "p": "NaN", "s": -5, "t": "x"}, {})
        elif kind == 2:
            body = _envelope("trades", symbol, 0, ms, ms, {}, {})
            del body["payload"]
        else:
            body = b"\xff\xfenot json"
        role = "trades" if n % 2 == 0 else "quotes"
        yield (ms, 3_000_000 + n, role, symbol, ms, body)


def _skew(spec: DaySpec) -> random.Random:
    return random.Random(f"{spec.seed}:skew")


def generate(spec: DaySpec, window: SessionWindow) -> Iterator[MarketRecord]:
    """Every record of the day in production order (event time), with its Kafka CreateTime."""
    streams: list[Iterator[_Event]] = [
        _symbol_events(spec, window, symbol, i) for i, symbol in enumerate(spec.symbols)
    ]
    streams.append(_status_events(spec, window))
    if spec.edges and spec.symbols:
        streams.append(_edge_events(spec, window))
    if spec.malformed > 0 and spec.symbols:
        streams.append(_malformed_events(spec, window))
    skew = _skew(spec)
    for _event_ms, _order, role, symbol, created_ms, body in heapq.merge(*streams):
        kafka_ms = created_ms
        # A rare clock skew of up to 1.5 s: the timestamp goes backwards within the partition.
        if spec.disorder and role == "trades" and skew.random() < 0.002:
            kafka_ms -= 200 + skew.randrange(1300)
        value = body if isinstance(body, bytes) else orjson.dumps(body, option=_JSON_OPTS)
        key = symbol.encode() if symbol else STATUS_KEY
        yield MarketRecord(role, key, value, kafka_ms)
