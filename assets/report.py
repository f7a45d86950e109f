"""`simulation_report`: the day's `torghut.simulation-report.v1` bundle, verdict and P&L, with its checks."""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import ValidationError

from assets.manifest import GROUP
from assets.simulation import SIMULATED
from resources import DayRun, SimulationConfigResource
from torghut_sim.calendar import partition_day
from torghut_sim.report.model import SCHEMA_VERSION, SimulationReport, format_decimal
from torghut_sim.run_evidence import EMPTY_DAY

if TYPE_CHECKING:
    from torghut_sim.report.api import ReportResult

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


def report_metadata(result: "ReportResult") -> dict[str, Any]:
    """Verdict, reasons, P&L, counts and file paths of a built report."""
    report = result.report
    pnl, funnel = report.pnl, report.funnel
    return {
        "verdict": report.verdict.status,
        "verdict_reasons": ", ".join(r.code for r in report.verdict.reasons) or "none",
        "net_pnl": format_decimal(pnl.net),
        "gross_pnl": format_decimal(pnl.gross),
        "realized_pnl": format_decimal(pnl.realized),
        "unrealized_pnl": format_decimal(pnl.unrealized),
        "decisions": funnel.decisions,
        "executions": funnel.executions,
        "fills": pnl.fills,
        "llm_reviews": funnel.llm_reviews,
        "coverage_ratio": dg.MetadataValue.float(report.coverage.coverage_ratio)
        if report.coverage.coverage_ratio is not None
        else dg.MetadataValue.null(),
        "summary": dg.MetadataValue.md(summary_markdown(report)),
        "report_json": dg.MetadataValue.path(str(result.json_path)),
        "report_markdown": dg.MetadataValue.path(str(result.markdown_path)),
        "report_dir": dg.MetadataValue.path(str(result.out_dir)),
    }


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
        # Imported here: the builder's polars and chart stack would slow every load of the code location.
        from torghut_sim.report.api import build_report  # noqa: PLC0415

        run = simulation_config.day_run(partition_day(context.partition_key))
        result = build_report(run.paths.root)
        status = EMPTY_DAY if result.report.coverage.dump_status == EMPTY_DAY else SIMULATED
        yield dg.MaterializeResult(metadata={"status": status, **report_metadata(result)})

    @dg.asset_check(
        asset=simulation_report,
        description=f"simulation-report.json parses as {SCHEMA_VERSION} (every section, exact decimals).",
    )
    def report_schema(
        context: dg.AssetCheckExecutionContext, simulation_config: SimulationConfigResource
    ) -> dg.AssetCheckResult:
        """Fail when the written report does not validate against the report model."""
        run = simulation_config.day_run(partition_day(context.partition_key))
        path = report_json(run)
        try:
            report = load_report(path)
        except (OSError, ValidationError) as exc:
            return dg.AssetCheckResult(passed=False, metadata={"report": str(path), "error": str(exc)[:2000]})
        return dg.AssetCheckResult(
            passed=report.schema_version == SCHEMA_VERSION,
            metadata={"report": dg.MetadataValue.path(str(path)), "schema_version": report.schema_version},
        )

    @dg.asset_check(
        asset=simulation_report,
        description="The governance verdict: PASS passes, WARN warns, FAIL fails (the report stays).",
    )
    def verdict(
        context: dg.AssetCheckExecutionContext, simulation_config: SimulationConfigResource
    ) -> dg.AssetCheckResult:
        """Turn the report verdict into a check result of matching severity."""
        run = simulation_config.day_run(partition_day(context.partition_key))
        report = load_report(report_json(run))
        status = report.verdict.status
        return dg.AssetCheckResult(
            passed=status == "PASS",
            severity=VERDICT_SEVERITY.get(status, dg.AssetCheckSeverity.ERROR),
            description=f"verdict {status}",
            metadata={
                "verdict": status,
                "reasons": dg.MetadataValue.json([r.model_dump(mode="json") for r in report.verdict.reasons]),
            },
        )

    return [simulation_report, report_schema, verdict]
