"""The rows one fetch window of the reference Torghut writes, built from the strategy's outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from torghut_sim.devstack.market_walk import iso_ms
from torghut_sim.devstack.refruntime.settings import TorghutSettings
from torghut_sim.devstack.refruntime.strategy import Outcome, SignalPoint, stable_id, tca
from torghut_sim.devstack.refruntime.worker import utc_ms


@dataclass
@dataclass
class WindowRows:
    """The rows of one fetch window, per table."""

    decisions: list[tuple[Any, ...]]
    reviews: list[tuple[Any, ...]]
    executions: list[tuple[Any, ...]]
    events: list[dict[str, Any]]
    tca: list[tuple[Any, ...]]
    # Counter increments of the window, applied to the process metrics once its transaction committed.
    counts: list[tuple[str, float, dict[str, str]]] = field(default_factory=list)

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Queue one increment of a `torghut_trading_*` counter."""
        self.counts.append((f"torghut_trading_{name}", amount, labels))


def count_outcome(out: Outcome, rows: WindowRows) -> None:
    """The counters one decision moves: its state, reasons, order, order updates and review."""
    rows.count("decisions_total")
    rows.count("decision_state_total", status=out.decision_status)
    if out.decision_status == "rejected":
        rows.count("orders_rejected_total")
    for reason in out.not_executed.get("reject_reason_atomic", []):
        rows.count("decision_reject_reason_total", reason=reason)
    for reason in out.not_executed.get("submission_block_atomic", []):
        rows.count("submission_block_total", reason=reason)
    if out.fill is not None:
        rows.count("orders_submitted_total")
        rows.count("reconcile_updates_total", len(out.fill.events))
    review = out.review
    rows.count("llm_requests_total")
    rows.count(f"llm_{review.verdict}_total")
    rows.count("llm_tokens_prompt_total", review.tokens_prompt)
    rows.count("llm_tokens_completion_total", review.tokens_completion)


def add_outcome_rows(
    out: Outcome,
    side: str,
    reason: str,
    target: int,
    point: SignalPoint,
    rows: WindowRows,
    settings: TorghutSettings,
    strategy_id: str,
    run_token: str,
) -> None:
    """One decision's rows: the decision, its review, and when it was sent its execution, events and TCA."""
    s = settings
    signal_iso = iso_ms(point.event_ms)
    fill = out.fill
    executed_ms = fill.events[-1].at_ms if fill is not None and fill.filled_qty > 0 else None
    decision_json = {
        "strategy_id": strategy_id,
        "symbol": point.symbol,
        "action": side,
        "qty": out.qty,
        "order_type": "market",
        "time_in_force": "day",
        "timeframe": "1Sec",
        "event_ts": signal_iso,
        "rationale": reason,
        "target_position": target,
        "llm_review": {"verdict": out.review.verdict, "model": s.model},
        "params": {
            "price": point.price,
            "macd_hist": point.macd_hist,
            "rsi14": point.rsi14,
            "vwap_w5m": point.vwap_w5m,
            "spread": point.spread,
            "simulation_context": {
                "simulation_run_id": s.run_id,
                "dataset_id": s.dataset_id,
                "signal_event_ts": signal_iso,
                "signal_seq": point.seq,
                "source": "ta",
            },
        },
        **out.not_executed,
    }
    rows.decisions.append(
        (
            out.decision_id,
            strategy_id,
            s.account_label,
            point.symbol,
            "1Sec",
            Jsonb(decision_json),
            out.decision_status,
            utc_ms(out.decision_ms),
            utc_ms(executed_ms) if executed_ms else None,
        )
    )
    review = out.review
    rows.reviews.append(
        (
            stable_id(out.decision_id, "review"),
            out.decision_id,
            s.model,
            s.prompt_version,
            review.verdict,
            review.confidence,
            review.tokens_prompt,
            review.tokens_completion,
            Jsonb(review.risk_flags),
            Jsonb(review.response),
            utc_ms(review.at_ms),
        )
    )
    if fill is None:
        return
    execution_id = stable_id(out.decision_id, "execution")
    order_id = str(stable_id(out.decision_id, "order"))
    client_order_id = f"{run_token}-{out.decision_id.hex[:16]}"
    last_ms = fill.events[-1].at_ms
    rows.executions.append(
        (
            execution_id,
            out.decision_id,
            order_id,
            client_order_id,
            point.symbol,
            side,
            "market",
            "day",
            out.qty,
            fill.filled_qty,
            fill.avg_fill_price,
            fill.status,
            utc_ms(fill.submitted_ms),
            utc_ms(last_ms),
            utc_ms(last_ms),
            "simulation",
            "simulation",
            None,
            0,
        )
    )
    for index, event in enumerate(fill.events):
        rows.events.append(
            {
                "id": stable_id(execution_id, "event", index, event.event_type),
                "execution_id": execution_id,
                "decision_id": out.decision_id,
                "symbol": point.symbol,
                "event": event,
                "order_id": order_id,
                "client_order_id": client_order_id,
                "side": side,
            }
        )
    if fill.filled_qty > 0 and fill.avg_fill_price is not None:
        figures = tca(side, out.arrival_price, fill.avg_fill_price, fill.filled_qty, out.qty, point.vwap_w5m)
        rows.tca.append(
            (
                execution_id,
                out.decision_id,
                strategy_id,
                point.symbol,
                side,
                fill.filled_qty,
                fill.avg_fill_price,
                figures["arrival_price"],
                figures["shortfall_notional"],
                figures["slippage_bps"],
                figures["realized_shortfall_bps"],
                figures["divergence_bps"],
                utc_ms(last_ms),
            )
        )
