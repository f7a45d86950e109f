"""The TA's output per closed second: the microbar, its signal, and the rolling indicators behind it."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

SECOND_MS = 1000


@dataclass(frozen=True)
class Microbar:
    """One closed 1-second bar of a symbol; `end_ms` is its event time."""

    symbol: str
    start_ms: int
    seq: int
    o: float
    h: float
    low: float
    c: float
    v: float
    vwap: float | None
    count: int

    @property
    def end_ms(self) -> int:
        """The bar's window end, which is also its event time."""
        return self.start_ms + SECOND_MS


@dataclass(frozen=True)
class Signal:
    """The indicators of a symbol at the end of one microbar."""

    symbol: str
    end_ms: int
    seq: int
    values: dict[str, float | None]
    bid_sz: int | None
    ask_sz: int | None
    microstructure: str | None


def _ema(prev: float | None, value: float, period: int) -> float:
    if prev is None:
        return value
    alpha = 2.0 / (period + 1)
    return alpha * value + (1 - alpha) * prev


@dataclass
class Indicators:
    """Rolling indicator state of one symbol."""

    vwap_window_ms: int
    vol_window_ms: int
    ema12: float | None = None
    ema26: float | None = None
    macd_signal: float | None = None
    prev_close: float | None = None
    rsi_n: int = 0
    avg_gain: float = 0.0
    avg_loss: float = 0.0
    closes: deque[float] = field(default_factory=lambda: deque(maxlen=20))
    session_day: int = -1
    session_pv: float = 0.0
    session_v: float = 0.0
    w5m: deque[tuple[int, float, float]] = field(default_factory=deque)
    w5m_pv: float = 0.0
    w5m_v: float = 0.0
    returns: deque[tuple[int, float]] = field(default_factory=deque)

    def update(self, bar: Microbar) -> dict[str, float | None]:
        """Fold one bar in and return the price indicators at its end."""
        c, end = bar.c, bar.end_ms
        self.ema12, self.ema26 = _ema(self.ema12, c, 12), _ema(self.ema26, c, 26)
        macd = self.ema12 - self.ema26
        self.macd_signal = _ema(self.macd_signal, macd, 9)
        rsi: float | None = None
        if self.prev_close is not None:
            change = c - self.prev_close
            gain, loss = max(change, 0.0), max(-change, 0.0)
            self.rsi_n += 1
            if self.rsi_n <= 14:
                self.avg_gain += gain / 14
                self.avg_loss += loss / 14
            else:
                self.avg_gain = (self.avg_gain * 13 + gain) / 14
                self.avg_loss = (self.avg_loss * 13 + loss) / 14
            if self.rsi_n >= 14:
                rsi = 100.0 if self.avg_loss == 0 else 100.0 - 100.0 / (1 + self.avg_gain / self.avg_loss)
            if self.prev_close > 0:
                self.returns.append((end, math.log(c / self.prev_close)))
        self.prev_close = c
        self.closes.append(c)
        boll_mid = boll_upper = boll_lower = None
        if len(self.closes) == self.closes.maxlen:
            mean = sum(self.closes) / len(self.closes)
            std = math.sqrt(sum((x - mean) ** 2 for x in self.closes) / len(self.closes))
            boll_mid, boll_upper, boll_lower = mean, mean + 2 * std, mean - 2 * std
        day = end // 86_400_000
        if day != self.session_day:
            self.session_day, self.session_pv, self.session_v = day, 0.0, 0.0
        pv = (bar.vwap if bar.vwap is not None else c) * bar.v
        self.session_pv += pv
        self.session_v += bar.v
        self.w5m.append((end, pv, bar.v))
        self.w5m_pv += pv
        self.w5m_v += bar.v
        while self.w5m and self.w5m[0][0] <= end - self.vwap_window_ms:
            _, old_pv, old_v = self.w5m.popleft()
            self.w5m_pv -= old_pv
            self.w5m_v -= old_v
        while self.returns and self.returns[0][0] <= end - self.vol_window_ms:
            self.returns.popleft()
        vol = math.sqrt(sum(r * r for _, r in self.returns)) if len(self.returns) >= 2 else None
        return {
            "macd": macd,
            "macd_signal": self.macd_signal,
            "macd_hist": macd - self.macd_signal,
            "ema12": self.ema12,
            "ema26": self.ema26,
            "rsi14": rsi,
            "boll_mid": boll_mid,
            "boll_upper": boll_upper,
            "boll_lower": boll_lower,
            "vwap_session": self.session_pv / self.session_v if self.session_v > 0 else None,
            "vwap_w5m": self.w5m_pv / self.w5m_v if self.w5m_v > 0 else None,
            "vol_realized_w60s": vol,
        }
