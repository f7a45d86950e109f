"""The reference Torghut's trading logic, pure: a MACD-histogram/RSI crossover strategy with position
limits (long and short), and the deterministic simulated world around each decision — the LLM review,
the broker's fill (slippage, partial fills, rejects, cancels), the order events and the TCA figures.

Everything random is a hash of the decision id, so the same signals give the same rows; times are
simulated (signal time plus hashed latencies), as the runtime's cursor clock would have them.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

ID_NAMESPACE = uuid.UUID("5b0c7f1e-3d7a-4c55-9a61-2f4d8e7b9c10")
STRATEGY_ID = "refruntime-macd-rsi-v1"
VERDICT_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("approve", 0.71),
    ("adjust", 0.08),
    ("veto", 0.08),
    ("abstain", 0.05),
    ("escalate", 0.05),
    ("error", 0.03),
)
EXECUTING_VERDICTS = frozenset({"approve", "adjust"})


def stable_id(*parts: object) -> uuid.UUID:
    """A UUIDv5 of the parts: the same inputs always give the same row id."""
    return uuid.uuid5(ID_NAMESPACE, ":".join(str(p) for p in parts))


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) derived from the parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:7], "big") / float(1 << 56)


@dataclass(frozen=True)
class SignalPoint:
    """What the strategy reads of one signal row and its microbar."""

    symbol: str
    event_ms: int
    seq: int
    price: float
    macd_hist: float | None
    rsi14: float | None
    vwap_w5m: float | None = None
    spread: float | None = None


@dataclass(frozen=True)
class StrategyConfig:
    """Sizing and limits of the strategy."""

    strategy_id: str = STRATEGY_ID
    order_notional: float = 10_000.0
    max_position_notional: float = 20_000.0
    cooldown_ms: int = 120_000
    allow_shorts: bool = True
    min_hist_bps: float = 0.1
    rsi_overbought: float = 70.0
    rsi_oversold: float = 30.0


@dataclass(frozen=True)
class Intent:
    """An order the strategy wants: side and quantity for one signal."""

    signal: SignalPoint
    side: str
    qty: int
    target: int
    reason: str


@dataclass
class MacdRsiStrategy:
    """Go long on an upward MACD-histogram cross unless overbought, short on a downward one unless
    oversold; one order per symbol per cooldown, positions capped by notional."""

    config: StrategyConfig = field(default_factory=StrategyConfig)
    positions: dict[str, int] = field(default_factory=dict)
    prev_hist: dict[str, float] = field(default_factory=dict)
    last_order_ms: dict[str, int] = field(default_factory=dict)
    # Why the last signal's crossover did not become an intent (None when there was no crossover).
    suppressed: str | None = None

    def on_signal(self, sig: SignalPoint) -> Intent | None:
        """The order this signal calls for, if any; `suppressed` says why a crossover was dropped."""
        cfg = self.config
        self.suppressed = None
        hist, prev = sig.macd_hist, self.prev_hist.get(sig.symbol)
        if hist is None or not math.isfinite(hist) or sig.price <= 0:
            return None
        self.prev_hist[sig.symbol] = hist
        if prev is None or sig.rsi14 is None:
            return None
        if abs(hist) < sig.price * cfg.min_hist_bps / 10_000:
            return None
        cross_up, cross_down = prev <= 0 < hist, prev >= 0 > hist
        if sig.event_ms - self.last_order_ms.get(sig.symbol, -(10**15)) < cfg.cooldown_ms:
            self.suppressed = "cooldown_active" if cross_up or cross_down else None
            return None
        unit_qty = max(1, int(cfg.order_notional // sig.price))
        cap = max(unit_qty, int(cfg.max_position_notional // sig.price))
        position = self.positions.get(sig.symbol, 0)
        if cross_up and sig.rsi14 < cfg.rsi_overbought:
            target, reason = min(cap, max(position, 0) + unit_qty), "macd_hist_cross_up"
        elif cross_down and sig.rsi14 > cfg.rsi_oversold:
            floor = -cap if cfg.allow_shorts else 0
            target, reason = max(floor, min(position, 0) - unit_qty), "macd_hist_cross_down"
        else:
            self.suppressed = "rsi_overbought" if cross_up else "rsi_oversold" if cross_down else None
            return None
        qty = target - position
        if qty == 0:
            self.suppressed = f"position_limit_reached:{'long' if cross_up else 'short'}"
            return None
        self.last_order_ms[sig.symbol] = sig.event_ms
        return Intent(sig, "buy" if qty > 0 else "sell", abs(qty), target, reason)

    def on_fill(self, symbol: str, side: str, qty: float) -> None:
        """Apply a fill to the position."""
        signed = round(qty) if side == "buy" else -round(qty)
        self.positions[symbol] = self.positions.get(symbol, 0) + signed


@dataclass(frozen=True)
class Review:
    """The simulated LLM review of a decision."""

    verdict: str
    confidence: float | None
    tokens_prompt: int
    tokens_completion: int
    risk_flags: list[str]
    response: dict[str, Any]
    at_ms: int


@dataclass(frozen=True)
class OrderEvent:
    """One broker update of an order."""

    event_type: str
    status: str
    at_ms: int
    qty: int
    filled_qty: float
    avg_fill_price: float | None


@dataclass(frozen=True)
class Fill:
    """The broker's handling of an order: final status, fills, and its events in order."""

    status: str
    submitted_ms: int
    filled_qty: float
    avg_fill_price: float | None
    events: list[OrderEvent]
    reject_reason: str | None = None


@dataclass(frozen=True)
class Outcome:
    """Everything one intent turns into (execution fields only when the review let it through)."""

    decision_id: uuid.UUID
    decision_ms: int
    decision_status: str
    review: Review
    qty: int
    fill: Fill | None
    arrival_price: float
    # Why it was not executed, as the runtime writes it into decision_json (CONTRACTS §6); {} otherwise.
    not_executed: dict[str, Any] = field(default_factory=dict)


def signal_key(sig: SignalPoint) -> str:
    """The identity of a signal within a day: symbol, event time and TA sequence."""
    return f"{sig.symbol}:{sig.event_ms}:{sig.seq}"


def review_decision(key: str, intent: Intent, model: str, prompt_version: str, decision_ms: int) -> Review:
    """A deterministic verdict mix: mostly approvals, some vetoes/adjusts/abstains/escalations, few errors."""
    pick = unit(key, "verdict")
    verdict = VERDICT_WEIGHTS[-1][0]
    acc = 0.0
    for name, weight in VERDICT_WEIGHTS:
        acc += weight
        if pick < acc:
            verdict = name
            break
    tokens_prompt = 700 + int(unit(key, "tp") * 400)
    tokens_completion = 0 if verdict == "error" else 60 + int(unit(key, "tc") * 180)
    confidence = None if verdict == "error" else round(0.45 + unit(key, "conf") * 0.5, 4)
    flags = []
    if intent.signal.rsi14 is not None and (intent.signal.rsi14 > 65 or intent.signal.rsi14 < 35):
        flags.append("rsi_extreme")
    if intent.side == "sell" and intent.target < 0:
        flags.append("short_exposure")
    response: dict[str, Any] = (
        {"error": "llm_timeout", "fail_mode": "veto"}
        if verdict == "error"
        else {
            "verdict": verdict,
            "rationale": f"{intent.reason} on {intent.signal.symbol}",
            "qty_multiplier": 0.5 if verdict == "adjust" else 1.0,
        }
    )
    at = decision_ms + 300 + int(unit(key, "llm_latency") * 2200)
    return Review(verdict, confidence, tokens_prompt, tokens_completion, flags, response, at)


def simulate_fill(
    key: str, side: str, qty: int, arrival: float, spread: float | None, submitted_ms: int
) -> Fill:
    """The simulated broker: ~86 % filled, ~8 % partially filled, ~3 % canceled, ~3 % rejected."""
    sign = 1 if side == "buy" else -1
    new = OrderEvent("new", "new", submitted_ms + 5 + int(unit(key, "ack") * 35), qty, 0, None)
    outcome = unit(key, "outcome")
    done_ms = new.at_ms + 10 + int(unit(key, "fill_latency") * 900)
    if outcome < 0.03:
        reject = OrderEvent("rejected", "rejected", done_ms, qty, 0, None)
        return Fill("rejected", submitted_ms, 0, None, [new, reject], "insufficient_buying_power")
    if outcome < 0.06:
        cancel = OrderEvent("canceled", "canceled", done_ms, qty, 0, None)
        return Fill("canceled", submitted_ms, 0, None, [new, cancel])
    slip_bps = -1.0 + unit(key, "slip") * 7.0
    half_spread_bps = (spread / 2 / arrival * 10_000) if spread and arrival > 0 else 0.0
    price = round(arrival * (1 + sign * (slip_bps + half_spread_bps) / 10_000), 4)
    if outcome < 0.14:
        filled = max(1, int(qty * (0.3 + unit(key, "partial") * 0.6)))
        if filled < qty:
            part = OrderEvent("partial_fill", "partially_filled", done_ms, qty, filled, price)
            return Fill("partially_filled", submitted_ms, filled, price, [new, part])
    fill = OrderEvent("fill", "filled", done_ms, qty, qty, price)
    return Fill("filled", submitted_ms, qty, price, [new, fill])


def decide(intent: Intent, run_id: str, model: str, prompt_version: str) -> Outcome:
    """Turn an intent into its decision, review and (when allowed) simulated execution."""
    sig = intent.signal
    # Draws depend on the signal, not the run: two runs of one day see the same world; ids stay per run.
    key = signal_key(sig)
    decision_id = stable_id(run_id, "decision", key)
    decision_ms = sig.event_ms + 120 + int(unit(key, "decide") * 480)
    review = review_decision(key, intent, model, prompt_version, decision_ms)
    if review.verdict not in EXECUTING_VERDICTS:
        status, fields = review_refusal(review)
        return Outcome(decision_id, decision_ms, status, review, intent.qty, None, sig.price, fields)
    qty = max(1, intent.qty // 2) if review.verdict == "adjust" else intent.qty
    submitted = review.at_ms + 20 + int(unit(key, "submit") * 100)
    fill = simulate_fill(key, intent.side, qty, sig.price, sig.spread, submitted)
    status = {"filled": "executed", "partially_filled": "executed"}.get(fill.status, fill.status)
    fields = {}
    if fill.status == "rejected":
        fields = rejected_fields(
            "rejected_submit", "broker_precheck", "broker", [fill.reject_reason or "broker"]
        )
    return Outcome(decision_id, decision_ms, status, review, qty, fill, sig.price, fields)


def rejected_fields(stage: str, klass: str, origin: str, reasons: list[str]) -> dict[str, Any]:
    """decision_json fields of a rejected decision: one `;`-joined risk reason, the atomic codes."""
    return {
        "risk_reasons": [";".join(reasons)],
        "reject_reason_atomic": reasons,
        "reject_class": klass,
        "reject_origin": origin,
        "submission_stage": stage,
    }


def blocked_fields(stage: str, reasons: list[str]) -> dict[str, Any]:
    """decision_json fields of a blocked decision."""
    return {
        "submission_block_reason": ";".join(reasons),
        "submission_block_atomic": reasons,
        "submission_stage": stage,
    }


def review_refusal(review: Review) -> tuple[str, dict[str, Any]]:
    """Status and reason fields of a decision the review did not let through.

    A veto is a policy reject, a failed review a handler error; an abstention leaves the order in the
    shadow capital stage and an escalation waits for the strategy's capital authority (both blocked).
    """
    if review.verdict == "veto":
        return "rejected", rejected_fields(
            "rejected_pre_submit", "policy", "llm_review", ["llm_veto", *review.risk_flags]
        )
    if review.verdict == "error":
        error = str(review.response.get("error") or "unknown")
        return "rejected", rejected_fields(
            "rejected_handler_error", "runtime", "llm_review", [f"llm_review_error:{error}"]
        )
    if review.verdict == "escalate":
        return "blocked", blocked_fields(
            "blocked_strategy_capital_authority", ["strategy_capital_authority_pending:llm_escalated"]
        )
    return "blocked", blocked_fields("blocked_capital_stage_shadow", ["capital_stage_shadow:llm_abstained"])


def tca(
    side: str, arrival: float, avg_fill: float, filled_qty: float, submitted_qty: int, vwap: float | None
) -> dict[str, float | None]:
    """Implementation shortfall of one execution against its arrival price (bps positive = cost)."""
    sign = 1 if side == "buy" else -1
    slippage_bps = sign * (avg_fill - arrival) / arrival * 10_000
    fill_ratio = filled_qty / submitted_qty if submitted_qty else 0.0
    return {
        "arrival_price": arrival,
        "shortfall_notional": round(sign * (avg_fill - arrival) * filled_qty, 6),
        "slippage_bps": round(slippage_bps, 6),
        # Unfilled quantity counts as a cost of one spread-free bp per missing 1 %: a simple proxy.
        "realized_shortfall_bps": round(slippage_bps + (1 - fill_ratio) * 100 * 0.01, 6),
        "divergence_bps": round(sign * (avg_fill - vwap) / vwap * 10_000, 6) if vwap else None,
    }
