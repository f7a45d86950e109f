"""The Markdown executive summary: verdict and reasons first, then key figures, charts and details."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Any

from torghut_sim.report.model import (
    ArtifactFile,
    Caveat,
    LatencyBucket,
    LatencyStats,
    NotExecuted,
    ReasonCounts,
    RuntimeMetrics,
    SimulationReport,
    format_decimal,
)


def cell(value: object) -> str:
    """One Markdown table cell: a dash for nothing, exact decimals, pipes and newlines escaped."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table's lines, with the blank line that ends it."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return [*lines, ""]


def key_figures(generated: str, rows: Iterable[Sequence[object]]) -> list[str]:
    """The line that dates a report and names its schema, then its key figures as a table."""
    return [generated, "", "## Key figures", "", *table(["figure", "value"], rows)]


def record_table(
    columns: Mapping[str, str | Callable[[Any], object]], records: Iterable[object]
) -> list[str]:
    """A table with a row per record: each column reads the attribute it names, or applies its function."""
    readers = [attrgetter(c) if isinstance(c, str) else c for c in columns.values()]
    return table(list(columns), ([read(r) for read in readers] for r in records))


def caveats_and_files(caveats: Iterable[Caveat], outputs: Iterable[ArtifactFile]) -> list[str]:
    """The closing sections of a report: its caveats, then the files written beside its JSON."""
    out = ["## Caveats", ""]
    out.extend(f"- `{c.code}`: {c.message}" for c in caveats)
    out.extend(["", "## Files", ""])
    out.extend(f"- `{a.name}` ({a.role}, {cell(a.rows)} rows)" for a in outputs)
    return out


def _latency_row(name: str, stats: LatencyStats) -> list[object]:
    return [name, stats.count, stats.p50_ms, stats.p95_ms, stats.p99_ms, stats.max_ms]


def render_markdown(report: SimulationReport, charts: dict[str, str]) -> str:
    """The summary document; `charts` maps a chart's role to its path relative to the report."""
    meta, cov, fun = report.run_metadata, report.coverage, report.funnel
    ex, pnl, llm, verdict = report.execution_quality, report.pnl, report.llm, report.verdict
    out = [
        f"# Simulation report — {meta.run_id}",
        "",
        f"**Verdict: {verdict.status}**"
        + (f" · trading day {meta.trading_day}" if meta.trading_day else "")
        + (f" · dataset `{meta.dataset_id}`" if meta.dataset_id else ""),
        "",
    ]
    if verdict.reasons:
        out.extend(f"- `{r.code}` ({r.severity}): {r.message}" for r in verdict.reasons)
    else:
        out.append("- no findings: every minimum met, telemetry complete")
    out.append("")
    out.extend(
        key_figures(
            f"Window {meta.window_start or '—'} → {meta.window_end or '—'} · generated {meta.generated_at} · "
            f"schema `{report.schema_version}`",
            [
                ["session coverage", _pct(cov.coverage_ratio)],
                [
                    "decisions → executions",
                    f"{fun.decisions} → {fun.executions} ({_pct(fun.decision_to_execution_rate)})",
                ],
                [
                    "fill / cancel / reject rate",
                    f"{_pct(ex.fill_rate)} / {_pct(ex.cancel_rate)} / {_pct(ex.reject_rate)}",
                ],
                ["realized / unrealized P&L", f"{cell(pnl.realized)} / {cell(pnl.unrealized)}"],
                ["gross − costs = net P&L", f"{cell(pnl.gross)} − {cell(pnl.costs)} = {cell(pnl.net)}"],
                ["max drawdown", cell(pnl.max_drawdown)],
                ["win rate", _pct(pnl.win_rate)],
                ["turnover", cell(pnl.turnover)],
                ["TCA shortfall proxy", cell(pnl.tca_proxy.realized_pnl_proxy_notional)],
                ["LLM reviews / error rate", f"{llm.reviews} / {_pct(llm.error_rate)}"],
                [
                    "decision → submit p50 / p95 ms",
                    f"{cell(ex.decision_to_submit.p50_ms)} / {cell(ex.decision_to_submit.p95_ms)}",
                ],
            ],
        )
    )
    titles = {
        "equity": "Equity and drawdown",
        "funnel": "Funnel",
        "latency": "Latency",
        "pnl_by_symbol": "P&L by symbol",
    }
    if charts:
        out.extend(["## Charts", ""])
        for role, path in charts.items():
            out.extend([f"![{titles.get(role, role)}]({path})", ""])
    out.extend(["## Coverage and replay", ""])
    out.extend(
        table(
            ["figure", "value"],
            [
                ["dump status", cov.dump_status],
                ["covered / session minutes", f"{cell(cov.covered_minutes)} / {cell(cov.session_minutes)}"],
                ["records dumped / replayed", f"{cell(cov.records_dumped)} / {cell(cov.records_replayed)}"],
                ["replay matches dump", cov.replay_matches_dump],
                ["out-of-window rate", _pct(cov.out_of_window_rate)],
                ["partitions with offset gaps", ", ".join(cov.partitions_with_offset_gaps) or "none"],
            ],
        )
    )
    out.extend(["## Funnel by strategy × symbol", ""])
    out.extend(
        table(
            ["strategy", "symbol", "decisions", "executions", "filled"],
            [
                [r.strategy_id, r.symbol, r.decisions, r.executions, r.filled_executions]
                for r in fun.by_strategy_symbol
            ],
        )
    )
    out.extend(_not_executed(fun.not_executed))
    out.extend(["## Execution latency (ms)", ""])
    out.extend(
        table(
            ["stage", "n", "p50", "p95", "p99", "max"],
            [
                _latency_row("signal → decision", ex.signal_to_decision),
                _latency_row("decision → submit", ex.decision_to_submit),
                _latency_row("submit → first order event", ex.submit_to_first_event),
            ],
        )
    )
    out.extend(_latency_buckets(ex.latency_buckets))
    out.extend(
        [
            f"Adapter mismatches: {ex.adapter_mismatches} · "
            f"fallbacks: {ex.fallbacks} ({_pct(ex.fallback_ratio)}) · "
            f"lifecycle completeness: {_pct(ex.lifecycle_completeness)}",
            "",
            "## P&L by symbol",
            "",
        ]
    )
    out.extend(
        record_table(
            {
                "symbol": "symbol",
                "fills": "fills",
                "realized": "realized",
                "unrealized": "unrealized",
                "costs": "costs",
                "net": "net",
                "open qty": "open_qty",
                "mark": "mark_price",
                "mark source": "mark_source",
            },
            pnl.by_symbol,
        )
    )
    out.extend(["## LLM reviews by model × prompt", ""])
    out.extend(
        record_table(
            {
                "model": "model",
                "prompt": "prompt_version",
                "reviews": "reviews",
                "error rate": lambda g: _pct(g.error_rate),
                "mean confidence": "mean_confidence",
                "tokens": lambda g: g.tokens_prompt + g.tokens_completion,
                "cost proxy": "cost_proxy",
            },
            llm.by_model_prompt,
        )
    )
    out.extend([f"Calibration gap: {cell(llm.calibration_gap)} (mean confidence − outcome agreement)", ""])
    out.extend(_runtime_metrics(report.runtime_metrics))
    out.extend(["## Stability", ""])
    if report.stability.anomalies:
        out.extend(f"- `{a.code}` ({a.severity}): {a.message}" for a in report.stability.anomalies)
    else:
        out.append("- no anomalies")
    out.append("")
    out.extend(caveats_and_files(report.caveats, report.artifacts.outputs))
    return "\n".join(out) + "\n"


def _reasons(title: str, counts: ReasonCounts) -> list[str]:
    if not counts.total:
        return []
    return [
        f"{title} ({counts.total}):",
        "",
        *table(["reason", "count"], sorted(counts.by_reason.items())),
    ]


def _runtime_metrics(rm: RuntimeMetrics | None) -> list[str]:
    """The runtime's own counters over the run (CONTRACTS §10)."""
    out = ["## Runtime metrics", ""]
    if rm is None or rm.status != "ok":
        reason = rm.reason if rm is not None else "not in this report"
        return [*out, f"- the runtime exposed no usable /metrics for this run (`{reason}`)", ""]
    llm = rm.llm
    out.extend(
        table(
            ["figure", "value"],
            [
                ["decisions", rm.decisions],
                [
                    "decisions by state",
                    ", ".join(f"{k} {v}" for k, v in rm.decisions_by_state.items()) or "—",
                ],
                ["orders submitted / rejected", f"{rm.orders_submitted} / {rm.orders_rejected}"],
                ["reconcile updates", rm.reconcile_updates],
                ["strategy intents", ", ".join(f"{k} {v}" for k, v in rm.strategy_intents.items()) or "—"],
                ["strategy errors", sum(rm.strategy_errors.values())],
                ["runtime loop failures", rm.runtime_loop_failures],
                [
                    "no-signal windows (streak at end)",
                    f"{rm.no_signal_windows} ({cell(rm.no_signal_streak)})",
                ],
                ["staleness alerts", rm.staleness_alerts.total],
                [
                    "continuity breaches (alert active)",
                    f"{rm.continuity_breaches} ({cell(rm.continuity_alert_active)})",
                ],
                ["feature-quality rejections", rm.feature_quality_rejections],
                ["LLM requests", llm.requests],
                [
                    "LLM approve/veto/adjust/abstain/escalate/error",
                    f"{llm.approve}/{llm.veto}/{llm.adjust}/{llm.abstain}/{llm.escalate}/{llm.error}",
                ],
                ["LLM tokens prompt / completion", f"{llm.tokens_prompt} / {llm.tokens_completion}"],
                [
                    "emergency stop / kill switch / rollback",
                    " / ".join(
                        str(v)
                        for v in (
                            rm.emergency_stop_signals,
                            rm.kill_switch_signals,
                            rm.rollback_triggered_events,
                        )
                    ),
                ],
                ["process restarted", rm.process_restarted],
            ],
        )
    )
    out.extend(_reasons("Reject reasons", rm.reject_reasons))
    out.extend(_reasons("Submission block reasons", rm.block_reasons))
    if rm.suppression_reasons:
        out.extend(["Intent suppression by strategy:", ""])
        out.extend(
            table(
                ["strategy", "reason", "count"],
                [[s.strategy_id, s.reason, s.count] for s in rm.suppression_reasons],
            )
        )
    out.extend(_reasons("No-signal reasons", rm.no_signal_reasons))
    out.extend(_reasons("Feature-quality rejections", rm.feature_quality_reasons))
    out.extend(_reasons("Rejected signals", rm.rejected_signal_reasons))
    out.extend(_reasons("Staleness alerts", rm.staleness_alerts))
    return out


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "—"


def _not_executed(ne: NotExecuted | None) -> list[str]:
    """Why decisions were not executed (decision_json reasons, CONTRACTS §6)."""
    if ne is None:
        return []
    out = ["## Why decisions were not executed", ""]
    if not ne.decisions:
        return [*out, "- no decision was rejected or blocked", ""]
    out.extend(
        table(
            ["figure", "value"],
            [
                ["rejected / blocked", f"{ne.rejected} / {ne.blocked}"],
                ["by stage", _counts(ne.by_stage)],
                ["by class (rejected)", _counts(ne.by_class)],
                ["by origin (rejected)", _counts(ne.by_origin)],
                ["by reason group", _counts(ne.reasons.by_group)],
            ],
        )
    )
    out.extend(_reasons("Reason codes", ne.reasons))
    out.extend(
        table(
            ["strategy", "symbol", "stage", "reason group", "decisions"],
            [
                [g.strategy_id, g.symbol, g.submission_stage, g.reason_group, g.decisions]
                for g in ne.by_strategy_symbol
            ],
        )
    )
    return out


def _latency_buckets(buckets: list[LatencyBucket] | None) -> list[str]:
    """Counts per fixed latency bucket, [lower, upper) in ms."""
    if not buckets:
        return []
    return [
        "Latency buckets (count per [lower, upper) ms):",
        "",
        *table(
            ["bucket (ms)", "signal → decision", "decision → submit", "submit → first event"],
            [
                [b.bucket, b.signal_to_decision, b.decision_to_submit, b.submit_to_first_event]
                for b in buckets
            ],
        ),
    ]
