"""`build_period_report`: the per-day reports of a range of trading days in, the period bundle out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from torghut_sim.calendar import trading_days
from torghut_sim.report.figures import iso_utc
from torghut_sim.report.model import ArtifactFile, Caveat, VerdictReason
from torghut_sim.report.period import charts
from torghut_sim.report.period.days import DaySource, read_days
from torghut_sim.report.period.equity import equity_curve, worst_drawdown
from torghut_sim.report.period.errors import PeriodError
from torghut_sim.report.period.layout import (
    CHARTS_DIR,
    PERIOD_DAYS,
    PERIOD_JSON,
    PERIOD_MARKDOWN,
    PERIOD_SYMBOL_DAYS,
    PERIOD_SYMBOLS,
    period_dir,
    period_id,
)
from torghut_sim.report.period.markdown import render_period_markdown
from torghut_sim.report.period.model import (
    PeriodArtifacts,
    PeriodDay,
    PeriodMetadata,
    SimulationPeriodReport,
)
from torghut_sim.report.period.runtime_totals import runtime_totals
from torghut_sim.report.period.tables import days_table, symbol_days_table, symbols_table
from torghut_sim.report.period.totals import by_symbol, totals
from torghut_sim.report.writer import chart_artifact, write_markdown_and_json, write_tables


@dataclass(frozen=True)
class PeriodResult:
    """The built period report and where its files are."""

    report: SimulationPeriodReport
    out_dir: Path
    json_path: Path
    markdown_path: Path


def _day(source: DaySource, cumulative: object, drawdown: object) -> PeriodDay:
    report = source.report
    pnl = report.pnl if report else None
    return PeriodDay.model_validate(
        {
            "trading_day": source.day.isoformat(),
            "run_id": source.run_id,
            "run_token": source.run_token,
            "status": source.status,
            "detail": source.detail,
            "verdict": report.verdict.status if report else None,
            "verdict_reasons": [
                VerdictReason(code=r.code, severity=r.severity, message=r.message)
                for r in (report.verdict.reasons if report else [])
            ],
            "realized": pnl.realized if pnl else None,
            "unrealized": pnl.unrealized if pnl else None,
            "gross": pnl.gross if pnl else None,
            "costs": pnl.costs if pnl else None,
            "net": pnl.net if pnl else None,
            "turnover": pnl.turnover if pnl else None,
            "fills": pnl.fills if pnl else None,
            "decisions": report.funnel.decisions if report else None,
            "executions": report.funnel.executions if report else None,
            "intraday_max_drawdown": pnl.max_drawdown if pnl else None,
            "cumulative_net": cumulative,
            "drawdown": drawdown,
            "runtime_metrics": bool(report and report.runtime_metrics),
        }
    )


def _caveats(report_days: list[PeriodDay], metrics_missing: int) -> list[Caveat]:
    caveats = [
        Caveat(
            code="days_simulated_independently",
            message="each day starts flat; positions open at a day's close are marked at its last price and "
            "not carried, so cumulative equity is the sum of each day's net P&L, unrealized part included",
        ),
        Caveat(
            code="drawdown_at_day_ends",
            message="the range's drawdown is measured at day ends; a day's own intraday drawdown "
            "(intraday_max_drawdown) can be deeper",
        ),
    ]
    missing = [d for d in report_days if d.status != "reported"]
    if missing:
        caveats.append(
            Caveat(
                code="days_without_report",
                message=f"{len(missing)} day(s) carry no figures and add nothing to the totals: "
                + ", ".join(f"{d.trading_day} {d.status}" for d in missing),
            )
        )
    if metrics_missing:
        caveats.append(
            Caveat(
                code="runtime_metrics_partial",
                message=f"{metrics_missing} reported day(s) carry no runtime metrics; "
                "the runtime totals cover only the others",
            )
        )
    return caveats


def compute_period(
    sources: list[DaySource], from_date: date, to_date: date, sequence: int, generated_at: datetime
) -> SimulationPeriodReport:
    """Every section from the days read; pure, no files written (artifacts still empty)."""
    points = equity_curve([(s.day.isoformat(), s.report.pnl.net if s.report else None) for s in sources])
    days = [_day(s, p.cumulative, p.drawdown) for s, p in zip(sources, points, strict=True)]
    runtime = runtime_totals(
        (s.day.isoformat(), s.report.runtime_metrics) for s in sources if s.report is not None
    )
    return SimulationPeriodReport(
        period=PeriodMetadata(
            period_id=period_id(from_date, to_date),
            from_date=from_date.isoformat(),
            to_date=to_date.isoformat(),
            sequence=sequence,
            trading_days=len(sources),
            generated_at=iso_utc(generated_at) or "",
        ),
        days=days,
        totals=totals(sources),
        drawdown=worst_drawdown(points),
        by_symbol=by_symbol(sources),
        runtime_metrics=runtime,
        artifacts=PeriodArtifacts(inputs=[], outputs=[]),
        caveats=_caveats(days, len(runtime.days_without_metrics)),
    )


def _check_range(output_root: Path, from_date: date, to_date: date) -> None:
    if from_date > to_date:
        raise PeriodError(
            f"--from-date {from_date} is after --to-date {to_date}", reason="period_range_invalid"
        )
    if not trading_days(from_date, to_date):
        raise PeriodError(
            f"{from_date} → {to_date} holds no NYSE trading day", reason="period_no_trading_days"
        )
    if not output_root.is_dir():
        raise PeriodError(f"output root {output_root} does not exist", reason="period_output_root_missing")


def build_period_report(
    output_root: Path,
    from_date: date,
    to_date: date,
    *,
    sequence: int = 1,
    out_dir: Path | None = None,
    generated_at: datetime | None = None,
    with_charts: bool = True,
) -> PeriodResult:
    """Read every trading day's report of the range and write the period bundle (JSON last)."""
    _check_range(output_root, from_date, to_date)
    sources = read_days(output_root, from_date, to_date, sequence)
    draft = compute_period(
        sources, from_date, to_date, sequence, generated_at if generated_at is not None else datetime.now(UTC)
    )
    target = out_dir if out_dir is not None else period_dir(output_root, from_date, to_date)
    try:
        outputs = write_tables(
            target,
            {
                PERIOD_DAYS: days_table(draft),
                PERIOD_SYMBOLS: symbols_table(draft),
                PERIOD_SYMBOL_DAYS: symbol_days_table(draft.period.period_id, sources),
            },
        )
        chart_paths: dict[str, Path] = {}
        if with_charts:
            chart_dir = target / CHARTS_DIR
            chart_dir.mkdir(parents=True, exist_ok=True)
            chart_paths = {
                "equity": charts.equity_chart(draft.days, chart_dir / charts.EQUITY),
                "daily_pnl": charts.daily_pnl_chart(draft.days, chart_dir / charts.DAILY_PNL),
                "pnl_by_symbol": charts.symbol_chart(draft.by_symbol, chart_dir / charts.PNL_BY_SYMBOL),
            }
        outputs.extend(chart_artifact(target, path) for path in chart_paths.values())
        inputs = [
            ArtifactFile(
                name=f"{s.run_token}/report/{s.report_path.name}",
                role="day_report",
                rows=None,
                sha256=s.report_sha256,
            )
            for s in sources
            if s.report_path is not None
        ]
        report = draft.model_copy(update={"artifacts": PeriodArtifacts(inputs=inputs, outputs=outputs)})
        markdown = render_period_markdown(
            report, {role: path.relative_to(target).as_posix() for role, path in chart_paths.items()}
        )
        json_path, markdown_path = target / PERIOD_JSON, target / PERIOD_MARKDOWN
        write_markdown_and_json(markdown_path, markdown, json_path, report)
    except OSError as exc:
        raise PeriodError(
            f"cannot write the period report to {target}: {exc}", reason="report_write_failed"
        ) from exc
    return PeriodResult(report=report, out_dir=target, json_path=json_path, markdown_path=markdown_path)
