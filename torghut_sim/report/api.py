"""`build_report`: one run directory in, the `torghut.simulation-report.v1` bundle out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from torghut_sim.layout import RunPaths
from torghut_sim.report import charts
from torghut_sim.report.caveats import build_caveats
from torghut_sim.report.coverage import build_coverage
from torghut_sim.report.errors import ReportError
from torghut_sim.report.execution import ExecutionResult, build_execution
from torghut_sim.report.figures import iso_utc
from torghut_sim.report.funnel import build_funnel
from torghut_sim.report.inputs import RunInputs, load_run
from torghut_sim.report.latency_buckets import latency_bucket_table
from torghut_sim.report.llm import LlmResult, build_llm
from torghut_sim.report.markdown import render_markdown
from torghut_sim.report.model import (
    ArtifactFile,
    Artifacts,
    RunMetadata,
    SimulationReport,
    Verdict,
)
from torghut_sim.report.pnl import PnlResult, compute_pnl
from torghut_sim.report.runtime_metrics import (
    build_runtime_metrics,
    runtime_caveats,
    with_runtime_anomalies,
    with_runtime_reasons,
)
from torghut_sim.report.stability import build_stability
from torghut_sim.report.summary import summary_row
from torghut_sim.report.verdict import decide
from torghut_sim.report.writer import TableWriter, chart_artifact, write_report

CHARTS_DIR = "charts"
# The bundle's tables in the order the report lists them.
TABLE_ORDER = (
    "trade-pnl",
    "execution-latency",
    "latency-buckets",
    "llm-review-summary",
    "equity-curve",
    "report-summary",
)


@dataclass(frozen=True)
class ReportResult:
    """The built report and where its files are."""

    report: SimulationReport
    out_dir: Path
    json_path: Path
    markdown_path: Path

    @property
    def verdict(self) -> Verdict:
        """PASS, WARN or FAIL."""
        return self.report.verdict.status


def _metadata(inputs: RunInputs, generated_at: datetime) -> RunMetadata:
    settings = inputs.settings
    transitions = (inputs.run_state or {}).get("transitions")
    last = (
        transitions[-1]
        if isinstance(transitions, list) and transitions and isinstance(transitions[-1], dict)
        else {}
    )
    return RunMetadata(
        run_id=settings.run_id,
        run_token=settings.run_token,
        dataset_id=settings.dataset_id,
        trading_day=settings.trading_day,
        window_start=iso_utc(settings.window_start),
        window_end=iso_utc(settings.window_end),
        generated_at=iso_utc(generated_at) or "",
        final_phase=str(last["phase"]) if last.get("phase") is not None else None,
        final_status=str(last["status"]) if last.get("status") is not None else None,
        scoped_by_run_id=inputs.scoped_by_run_id,
        commission_bps=settings.commission_bps,
        per_trade_fee=settings.per_trade_fee,
        llm_price_per_1k_tokens=settings.llm_price_per_1k_tokens,
    )


@dataclass(frozen=True)
class Computed:
    """Every section of a run (artifacts still empty) and the tables behind them, before any write."""

    draft: SimulationReport
    pnl: PnlResult
    execution: ExecutionResult
    llm: LlmResult


def render_charts(
    chart_dir: Path, draft: SimulationReport, pnl: PnlResult, execution: ExecutionResult
) -> dict[str, Path]:
    """Every chart's file, keyed by role in the report's order (milliseconds: they are hand-drawn SVG)."""
    latencies = {
        "signal → decision": execution.decision_latency,
        "decision → submit": execution.latency["decision_to_submit_ms"],
        "submit → first event": execution.latency["submit_to_first_event_ms"],
    }
    try:
        chart_dir.mkdir(parents=True, exist_ok=True)
        return {
            "equity": charts.equity_chart(pnl.equity_curve, chart_dir / charts.EQUITY),
            "funnel": charts.funnel_chart(draft.funnel, chart_dir / charts.FUNNEL),
            "latency": charts.latency_chart(latencies, chart_dir / charts.LATENCY),
            "pnl_by_symbol": charts.pnl_by_symbol_chart(draft.pnl, chart_dir / charts.PNL_BY_SYMBOL),
        }
    except OSError as exc:
        raise ReportError(
            f"cannot write the charts to {chart_dir}: {exc}", reason="report_write_failed"
        ) from exc


def compute(inputs: RunInputs, generated_at: datetime, tables: TableWriter | None = None) -> Computed:
    """Compute every section from loaded inputs; the large tables go to `tables` as soon as they exist.

    The sections are computed one after the other (side by side their transient memory passed the
    600 MB the full-day benchmark allows). The execution section comes first: its latency table is the
    largest file to write, and its writing then overlaps the P&L and every later section."""
    execution = build_execution(inputs)
    if tables is not None:
        tables.submit("execution-latency", execution.latency)
    pnl = compute_pnl(inputs.executions, inputs.last_prices, inputs.tca, inputs.settings)
    if tables is not None:
        tables.submit("trade-pnl", pnl.trades)
        tables.submit("equity-curve", pnl.equity_curve)
    llm = build_llm(
        inputs.llm_reviews, inputs.executions, pnl.trades, inputs.settings.llm_price_per_1k_tokens
    )
    coverage = build_coverage(inputs)
    funnel = build_funnel(inputs, coverage.clickhouse_rows.get("ta_signals"))
    runtime = build_runtime_metrics(inputs.runtime_metrics)
    draft = SimulationReport(
        run_metadata=_metadata(inputs, generated_at),
        coverage=coverage,
        funnel=funnel,
        execution_quality=execution.section,
        pnl=pnl.section,
        llm=llm.section,
        runtime_metrics=runtime,
        stability=with_runtime_anomalies(
            build_stability(inputs, coverage, funnel, execution.section, llm.section), runtime
        ),
        verdict=with_runtime_reasons(
            decide(inputs.settings, coverage, funnel, execution.section, llm.section), runtime
        ),
        artifacts=Artifacts(inputs=[], outputs=[]),
        caveats=[
            *build_caveats(inputs, execution.section, pnl.section, llm.section),
            *runtime_caveats(runtime),
        ],
    )
    return Computed(draft=draft, pnl=pnl, execution=execution, llm=llm)


def build_report(
    run_dir: Path,
    out_dir: Path | None = None,
    generated_at: datetime | None = None,
    *,
    with_charts: bool = True,
) -> ReportResult:
    """Read a run directory, compute every section and write the report bundle (default `<run>/report/`)."""
    inputs = load_run(run_dir)
    target = out_dir if out_dir is not None else RunPaths(run_dir).report_dir
    tables = TableWriter(target)
    try:
        computed = compute(inputs, generated_at if generated_at is not None else datetime.now(UTC), tables)
        draft, pnl, execution, llm = computed.draft, computed.pnl, computed.execution, computed.llm
        tables.submit("latency-buckets", latency_bucket_table(draft.execution_quality.latency_buckets))
        tables.submit("llm-review-summary", llm.summary)
        tables.submit("report-summary", summary_row(draft))
        outputs = tables.artifacts(TABLE_ORDER)
    except BaseException:
        # A build that fails leaves none of its files behind.
        tables.discard()
        raise
    input_files = [
        ArtifactFile(name=f.name, role=f.role, rows=f.rows, sha256=f.sha256)
        for f in inputs.files
        if f.present
    ]
    chart_paths = render_charts(target / CHARTS_DIR, draft, pnl, execution) if with_charts else {}
    outputs.extend(chart_artifact(target, path) for path in chart_paths.values())
    report = draft.model_copy(update={"artifacts": Artifacts(inputs=input_files, outputs=outputs)})
    markdown = render_markdown(
        report, {role: path.relative_to(target).as_posix() for role, path in chart_paths.items()}
    )
    json_path, markdown_path = write_report(target, report, markdown)
    return ReportResult(report=report, out_dir=target, json_path=json_path, markdown_path=markdown_path)
