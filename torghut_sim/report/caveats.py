"""The caveats: what a reader must know about the limits of the figures before trusting them."""

from __future__ import annotations

from torghut_sim.report.inputs import RunInputs
from torghut_sim.report.model import Caveat, ExecutionQuality, Llm, Pnl


def build_caveats(inputs: RunInputs, execution: ExecutionQuality, pnl: Pnl, llm: Llm) -> list[Caveat]:
    """Every caveat that applies to this run, in a fixed order."""
    out: list[Caveat] = [
        Caveat(
            code="pnl_fifo_vs_tca_proxy",
            message=(
                "pnl.realized/unrealized/gross/net are FIFO lot P&L of filled quantities marked at the last "
                "price; pnl.tca_proxy is the runtime's implementation-shortfall proxy against arrival "
                "prices, not mark-to-market P&L"
            ),
        ),
        Caveat(
            code="equity_curve_marks_at_fills",
            message=(
                "intraday equity marks each open position at its symbol's last fill price (no intraday "
                "price feed); only the closing point uses the last prices"
            ),
        ),
    ]
    for name in inputs.missing_tables:
        out.append(Caveat(code="input_missing", message=f"{name} is absent; its figures are empty"))
    for label, present in (
        ("manifest.yaml", inputs.manifest_present),
        ("source-dump.marker.json", inputs.dump_marker is not None),
        ("replay-marker.json", inputs.replay_marker is not None),
        ("run-state.json", inputs.run_state is not None),
    ):
        if not present:
            out.append(Caveat(code="input_missing", message=f"{label} is absent; defaults or nulls are used"))
    monitor = inputs.monitor
    if monitor is not None and monitor.get("complete") is False:
        problems = ", ".join(str(p) for p in monitor.get("problems") or []) or "unknown"
        out.append(
            Caveat(
                code="inputs_cut_short",
                message=(
                    f"the monitor ended ({monitor.get('ended')}) before every stage consumed the whole "
                    f"window ({problems}); the figures cover part of the day only"
                ),
            )
        )
    if not inputs.scoped_by_run_id:
        out.append(
            Caveat(
                code="decisions_not_scoped",
                message="no decision carries simulation_context.simulation_run_id; all decisions are counted",
            )
        )
    fallback_marks = [s.symbol for s in pnl.by_symbol if s.mark_source == "last_fill" and s.open_qty != 0]
    if fallback_marks:
        out.append(
            Caveat(
                code="unrealized_marked_at_last_fill",
                message=(
                    f"no last price for {', '.join(fallback_marks)}; open positions marked at the last fill"
                ),
            )
        )
    if execution.signal_ts_from_event_ts:
        out.append(
            Caveat(
                code="signal_time_from_event_ts",
                message=(
                    f"{execution.signal_ts_from_event_ts} decisions lack simulation_context.signal_event_ts; "
                    "their signal time is decision_json.event_ts"
                ),
            )
        )
    if llm.reviews:
        out.append(
            Caveat(
                code="llm_calibration_proxy",
                message=(
                    "calibration gap = mean confidence − share of reviews whose verdict agreed with the fill "
                    "outcome of the decision; a proxy, not a scored eval"
                ),
            )
        )
    if pnl.average_win is not None or pnl.average_loss is not None:
        out.append(Caveat(code="averages_rounded", message="average win/loss are rounded half-even to 1e-10"))
    return out
