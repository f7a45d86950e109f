"""The TA's input records: trades and quotes parsed from their topic envelopes, malformed ones refused."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson


@dataclass(frozen=True)
class Trade:
    """One trade print."""

    symbol: str
    ts_ms: int
    price: float
    size: float


@dataclass(frozen=True)
class Quote:
    """One top-of-book quote."""

    symbol: str
    ts_ms: int
    bid_px: float
    bid_sz: int
    ask_px: float
    ask_sz: int


@functools.lru_cache(maxsize=8192)
def _second_ms(prefix: str) -> int:
    return int(datetime.fromisoformat(prefix + "+00:00").timestamp()) * 1000


def parse_iso_ms(text: str) -> int:
    """ISO-8601 (with `Z` or an offset) as epoch milliseconds."""
    # The feed's own form `YYYY-MM-DDTHH:MM:SS.mmmZ` is parsed per second from a cache: it is the hot path.
    if len(text) == 24 and text[19] == "." and text[23] == "Z" and text[20:23].isdigit():
        return _second_ms(text[:19]) + int(text[20:23])
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _envelope(value: bytes | None) -> tuple[str, int, dict[str, Any]] | None:
    """(symbol, event ms, payload) of an envelope, None when it is not a usable one."""
    if not value:
        return None
    try:
        doc = orjson.loads(value)
        symbol = doc["symbol"]
        payload = doc["payload"]
        ts = parse_iso_ms(doc["event_ts"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(symbol, str) or not symbol or not isinstance(payload, dict):
        return None
    return symbol, ts, payload


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def parse_trade(value: bytes | None) -> Trade | None:
    """A trade from a `torghut.trades.v1` value; None for malformed values."""
    env = _envelope(value)
    if env is None:
        return None
    symbol, ts, payload = env
    price, size = _positive(payload.get("p")), _positive(payload.get("s"))
    if price is None or size is None:
        return None
    return Trade(symbol, ts, price, size)


def parse_quote(value: bytes | None) -> Quote | None:
    """A quote from a `torghut.quotes.v1` value; None for malformed values."""
    env = _envelope(value)
    if env is None:
        return None
    symbol, ts, payload = env
    bid, ask = _positive(payload.get("bp")), _positive(payload.get("ap"))
    bid_sz, ask_sz = _positive(payload.get("bs")), _positive(payload.get("as"))
    if bid is None or ask is None or bid_sz is None or ask_sz is None or ask < bid:
        return None
    return Quote(symbol, ts, bid, int(bid_sz), ask, int(ask_sz))
