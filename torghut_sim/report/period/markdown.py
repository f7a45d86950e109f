"""The period Markdown: totals first, charts, then each day, the drawdown, symbols and runtime metrics."""

from __future__ import annotations

from torghut_sim.report.markdown import caveats_and_files, cell, key_figures, record_table, table
from torghut_sim.report.period.model import SimulationPeriodReport

CHART_TITLES = {
    "equity": "Cumulative equity and drawdown",
    "daily_pnl": "Net P&L by day",
    "pnl_by_symbol": "P&L by symbol",
}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"


def render_period_markdown(report: SimulationPeriodReport, charts: dict[str, str]) -> str:
    """The period document; `charts` maps a chart's role to its path relative to the report."""
    meta, totals, dd = report.period, report.totals, report.drawdown
    out = [
        f"# Simulation period report — {meta.from_date} → {meta.to_date}",
        "",
        f"**{totals.days_reported} of {totals.days_listed} trading days reported** · "
        f"verdicts: {_counts(totals.verdict_counts)} · days: {_counts(totals.status_counts)}",
        "",
    ]
    out.extend(
        key_figures(
            f"Run sequence {meta.sequence} · generated {meta.generated_at} · "
            f"schema `{report.schema_version}`",
            [
                ["realized / unrealized P&L", f"{cell(totals.realized)} / {cell(totals.unrealized)}"],
                [
                    "gross − costs = net P&L",
                    f"{cell(totals.gross)} − {cell(totals.costs)} = {cell(totals.net)}",
                ],
                [
                    "profitable / losing / flat days",
                    f"{totals.profitable_days} / {totals.losing_days} / {totals.flat_days}",
                ],
                ["best day", f"{cell(totals.best_day)} ({cell(totals.best_day_net)})"],
                ["worst day", f"{cell(totals.worst_day)} ({cell(totals.worst_day_net)})"],
                [
                    "max drawdown (day ends)",
                    f"{cell(dd.max_drawdown)} from {dd.peak_day or 'the start'} to {cell(dd.trough_day)}",
                ],
                ["recovered on", cell(dd.recovered_day)],
                [
                    "decisions → executions → fills",
                    f"{totals.decisions} → {totals.executions} → {totals.fills}",
                ],
                ["win rate", "—" if totals.win_rate is None else f"{totals.win_rate * 100:.2f} %"],
                ["turnover", cell(totals.turnover)],
            ],
        )
    )
    if charts:
        out.extend(["## Charts", ""])
        for role, path in charts.items():
            out.extend([f"![{CHART_TITLES.get(role, role)}]({path})", ""])
    out.extend(["## Days", ""])
    out.extend(
        record_table(
            {
                "day": "trading_day",
                "status": "status",
                "verdict": "verdict",
                "reasons": lambda d: ", ".join(r.code for r in d.verdict_reasons) or None,
                "net": "net",
                "cumulative": "cumulative_net",
                "drawdown": "drawdown",
                "fills": "fills",
                "detail": "detail",
            },
            report.days,
        )
    )
    out.extend(["## Worst drawdown", ""])
    if dd.days:
        out.append(
            f"Equity fell {cell(dd.max_drawdown)} from {cell(dd.peak_equity)} "
            f"(after {dd.peak_day or 'the start of the range'}) to {cell(dd.trough_equity)} "
            f"(after {dd.trough_day}); "
            + (f"recovered on {dd.recovered_day}." if dd.recovered_day else "not recovered within the range.")
        )
        out.append("")
        out.extend(table(["day", "net"], [[d.trading_day, d.net] for d in dd.days]))
    else:
        out.extend(["- no drawdown: equity never fell below its running peak", ""])
    out.extend(["## P&L by symbol", ""])
    out.extend(
        record_table(
            {
                "symbol": "symbol",
                "days": "days_traded",
                "fills": "fills",
                "realized": "realized",
                "unrealized": "unrealized",
                "costs": "costs",
                "net": "net",
                "win / loss": lambda s: f"{s.wins} / {s.losses}",
            },
            report.by_symbol,
        )
    )
    runtime = report.runtime_metrics
    out.extend(["## Runtime metrics", ""])
    out.append(
        f"{runtime.days_with_metrics} reported day(s) carried runtime metrics"
        + (f"; without: {', '.join(runtime.days_without_metrics)}" if runtime.days_without_metrics else "")
    )
    out.append("")
    if runtime.totals:
        out.extend(table(["figure", "total"], list(runtime.totals.items())))
    out.extend(caveats_and_files(report.caveats, report.artifacts.outputs))
    return "\n".join(out) + "\n"
