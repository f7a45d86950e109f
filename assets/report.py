"""`simulation_report`: the day's `torghut.simulation-report.v1` bundle, verdict and P&L, with its checks."""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import ValidationError

from assets.day_checks import day_check
from assets.figures import figures
from assets.manifest import GROUP
from assets.simulation import SIMULATED
from resources import DayRun, SimulationConfigResource
from torghut_sim.report.model import SCHEMA_VERSION, SimulationReport, format_decimal
from torghut_sim.run_evidence import EMPTY_DAY

if TYPE_CHECKING:
    from torghut_sim.report.api import ReportResult
    from torghut_sim.report.settings import ReportSettings

VERDICT_SEVERITY = {"WARN": dg.AssetCheckSeverity.WARN, "FAIL": dg.AssetCheckSeverity.ERROR}


def summary_markdown(report: SimulationReport) -> str:
    """A short Markdown card of a report: verdict and reasons, P&L, funnel counts."""
    pnl, funnel = report.pnl, report.funnel
    lines = [
        f"### {report.run_metadata.run_id} — **{report.verdict.status}**",
        "",
        *[f"- `{r.code}` ({r.severity}): {r.message}" for r in report.verdict.reasons],
        "",
        "| P&L | value |",
        "|---|---|",
        *[
            f"| {name} | {format_decimal(value)} |"
            for name, value in (
                ("realized", pnl.realized),
                ("unrealized", pnl.unrealized),
                ("gross", pnl.gross),
                ("costs", pnl.costs),
                ("net", pnl.net),
                ("max drawdown", pnl.max_drawdown),
            )
        ],
        "",
        f"Decisions {funnel.decisions} → executions {funnel.executions} → fills {funnel.filled_executions}; "
        f"order events {funnel.order_events}, TCA rows {funnel.tca_rows}, LLM reviews {funnel.llm_reviews}.",
    ]
    return "\n".join(lines) + "\n"


def report_figures(report: SimulationReport) -> dict[str, dg.MetadataValue]:
    """The report's figures a person plots across days, as numeric metadata (P&L as floats)."""
    coverage, funnel, pnl, quality = report.coverage, report.funnel, report.pnl, report.execution_quality
    return figures(
        {
            "records": coverage.records_dumped,
            "records_replayed": coverage.records_replayed,
            "coverage_ratio": coverage.coverage_ratio,
            "decisions": funnel.decisions,
            "executions": funnel.executions,
            "fills": pnl.fills,
            "llm_reviews": funnel.llm_reviews,
            "realized_pnl": pnl.realized,
            "unrealized_pnl": pnl.unrealized,
            "gross_pnl": pnl.gross,
            "costs": pnl.costs,
            "net_pnl": pnl.net,
            "max_drawdown": pnl.max_drawdown,
            "signal_to_decision_p95_ms": quality.signal_to_decision.p95_ms,
            "decision_to_submit_p95_ms": quality.decision_to_submit.p95_ms,
            "submit_to_first_event_p95_ms": quality.submit_to_first_event.p95_ms,
            "llm_error_rate": report.llm.error_rate,
        }
    )


def report_metadata(result: "ReportResult") -> dict[str, Any]:
    """Verdict, reasons, figures (numeric, so the UI plots them) and file paths of a built report."""
    report = result.report
    return {
        "verdict": report.verdict.status,
        "verdict_reasons": ", ".join(r.code for r in report.verdict.reasons) or "none",
        **report_figures(report),
        "summary": dg.MetadataValue.md(summary_markdown(report)),
        "report_json": dg.MetadataValue.path(str(result.json_path)),
        "report_markdown": dg.MetadataValue.path(str(result.markdown_path)),
        "report_dir": dg.MetadataValue.path(str(result.out_dir)),
    }


def verdict_settings(run: DayRun) -> "ReportSettings":
    """The thresholds the report's verdict judged by: the run's manifest, as the report builder reads it."""
    from torghut_sim.report.settings import build_settings, read_manifest  # noqa: PLC0415 - see build_report

    return build_settings(run.paths.root, read_manifest(run.paths.manifest), None)


def verdict_figures(report: SimulationReport, settings: "ReportSettings") -> dict[str, dg.MetadataValue]:
    """Each figure the verdict judges beside its threshold, numeric so the check page plots them."""
    from torghut_sim.report.stability import LLM_ERROR_RATE_LIMIT  # noqa: PLC0415 - see build_report

    return figures(
        {
            "verdict_reasons": len(report.verdict.reasons),
            "decisions": report.funnel.decisions,
            "min_trade_decisions": settings.min_trade_decisions,
            "executions": report.funnel.executions,
            "min_executions": settings.min_executions,
            "coverage_ratio": report.coverage.coverage_ratio,
            "strict_coverage_ratio": report.coverage.strict_coverage_ratio,
            "llm_error_rate": report.llm.error_rate,
            "llm_error_rate_limit": LLM_ERROR_RATE_LIMIT,
        }
    )


def report_json(run: DayRun) -> Path:
    """Where the day's simulation-report.json is written."""
    from torghut_sim.report.writer import JSON_NAME  # noqa: PLC0415 - the writer brings polars

    return run.paths.report_dir / JSON_NAME


def load_report(json_path: Path) -> SimulationReport:
    """A written report, validated against the `torghut.simulation-report.v1` model."""
    return SimulationReport.model_validate_json(json_path.read_bytes())


def build_report_assets(partitions: dg.PartitionsDefinition) -> Sequence[Any]:
    """The report asset of a trading day and its (non-blocking) checks."""

    @dg.asset(
        partitions_def=partitions,
        group_name=GROUP,
        deps=["simulation_outputs"],
        kinds={"python", "parquet"},
        description="The day's simulation report: coverage, funnel, execution quality, P&L, LLM, verdict.",
    )
    def simulation_report(
        context: dg.AssetExecutionContext, simulation_config: SimulationConfigResource
    ) -> Iterator[dg.MaterializeResult[None]]:
        """Build the report bundle from the run directory; an empty day's report says it is one."""
        # Imported here: the builder's polars would slow every load of the code location.
        from torghut_sim.report.api import build_report  # noqa: PLC0415

        run = simulation_config.partition_run(context.partition_key)
        result = build_report(run.paths.root)
        status = EMPTY_DAY if result.report.coverage.dump_status == EMPTY_DAY else SIMULATED
        yield dg.MaterializeResult(metadata={"status": status, **report_metadata(result)})

    @day_check(
        simulation_report,
        description=f"simulation-report.json parses as {SCHEMA_VERSION} (every section, exact decimals).",
    )
    def report_schema(run: DayRun) -> dg.AssetCheckResult:
        """Fail when the written report does not validate against the report model."""
        path = report_json(run)
        try:
            report = load_report(path)
        except (OSError, ValidationError) as exc:
            return dg.AssetCheckResult(passed=False, metadata={"report": str(path), "error": str(exc)[:2000]})
        return dg.AssetCheckResult(
            passed=report.schema_version == SCHEMA_VERSION,
            metadata={"report": dg.MetadataValue.path(str(path)), "schema_version": report.schema_version},
        )

    @day_check(simulation_report)
    def verdict(run: DayRun) -> dg.AssetCheckResult:
        """The governance verdict: PASS passes, WARN warns, FAIL fails (the report stays)."""
        # A check result of matching severity: the report is kept whatever the verdict.
        report = load_report(report_json(run))
        status = report.verdict.status
        return dg.AssetCheckResult(
            passed=status == "PASS",
            severity=VERDICT_SEVERITY.get(status, dg.AssetCheckSeverity.ERROR),
            description=f"verdict {status}",
            metadata={
                "verdict": status,
                "reasons": dg.MetadataValue.json([r.model_dump(mode="json") for r in report.verdict.reasons]),
                **verdict_figures(report, verdict_settings(run)),
            },
        )

    return [simulation_report, report_schema, verdict]
