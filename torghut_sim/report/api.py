"""`build_report`: one run directory in, the `torghut.simulation-report.v1` bundle out."""

from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from torghut_sim.layout import RunPaths
from torghut_sim.report import charts
from torghut_sim.report.caveats import build_caveats
from torghut_sim.report.coverage import build_coverage
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
    Funnel,
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
from torghut_sim.report.writer import chart_artifact, write_report, write_tables

CHARTS_DIR = "charts"


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


class ChartJobs:
    """The report's charts, each rendered on one worker thread as soon as its data is computed.

    matplotlib holds the GIL, but most of the rest of the build is polars, which releases it: on two
    cores the charts then cost little wall time. One worker keeps matplotlib single-threaded."""

    ROLES = ("equity", "funnel", "latency", "pnl_by_symbol")

    def __init__(self, chart_dir: Path) -> None:
        self.chart_dir = chart_dir
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-charts")
        self.jobs: dict[str, Future[Path]] = {}
        # Made here, before any render is queued, so that a failed build knows which directories it made.
        self.made_dirs = list(itertools.takewhile(lambda d: not d.exists(), (chart_dir, *chart_dir.parents)))
        chart_dir.mkdir(parents=True, exist_ok=True)

    def execution_ready(self, funnel: Funnel, execution: ExecutionResult) -> None:
        """Queue the funnel and latency charts."""
        self.jobs["funnel"] = self.pool.submit(charts.funnel_chart, funnel, self.chart_dir / charts.FUNNEL)
        latencies = {
            "signal → decision": execution.decision_latency,
            "decision → submit": execution.latency["decision_to_submit_ms"],
            "submit → first event": execution.latency["submit_to_first_event_ms"],
        }
        self.jobs["latency"] = self.pool.submit(
            charts.latency_chart, latencies, self.chart_dir / charts.LATENCY
        )

    def pnl_ready(self, pnl: PnlResult) -> None:
        """Queue the equity and P&L-by-symbol charts."""
        self.jobs["equity"] = self.pool.submit(
            charts.equity_chart, pnl.equity_curve, self.chart_dir / charts.EQUITY
        )
        self.jobs["pnl_by_symbol"] = self.pool.submit(
            charts.pnl_by_symbol_chart, pnl.section, self.chart_dir / charts.PNL_BY_SYMBOL
        )

    def discard(self) -> None:
        """After a failed build: wait for the queued renders and remove what they wrote."""
        self.pool.shutdown(wait=True)
        for job in self.jobs.values():
            if job.exception() is None:
                job.result().unlink(missing_ok=True)
        for made in self.made_dirs:  # innermost first; a directory something else wrote to stays
            if any(made.iterdir()):
                break
            made.rmdir()

    def results(self) -> dict[str, Path]:
        """Every chart's file, keyed by role in the report's order (waits for the renders)."""
        try:
            return {role: self.jobs[role].result() for role in self.ROLES}
        finally:
            self.pool.shutdown(wait=False)


def _pnl_and_llm(inputs: RunInputs, chart_jobs: ChartJobs | None) -> tuple[PnlResult, LlmResult]:
    pnl = compute_pnl(inputs.executions, inputs.last_prices, inputs.tca, inputs.settings)
    if chart_jobs is not None:
        chart_jobs.pnl_ready(pnl)
    llm = build_llm(
        inputs.llm_reviews, inputs.executions, pnl.trades, inputs.settings.llm_price_per_1k_tokens
    )
    return pnl, llm


def compute(inputs: RunInputs, generated_at: datetime, chart_jobs: ChartJobs | None = None) -> Computed:
    """Compute every section from loaded inputs; no files written but the charts queued on `chart_jobs`.

    The sections are computed one after the other (side by side their transient memory passed the
    600 MB the full-day benchmark allows), the P&L first: its transient memory is the largest, and
    fewer results are alive then."""
    pnl, llm = _pnl_and_llm(inputs, chart_jobs)
    coverage = build_coverage(inputs)
    funnel = build_funnel(inputs, coverage.clickhouse_rows.get("ta_signals"))
    execution = build_execution(inputs)
    if chart_jobs is not None:
        chart_jobs.execution_ready(funnel, execution)
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
    chart_jobs = ChartJobs(target / CHARTS_DIR) if with_charts else None
    try:
        computed = compute(
            inputs, generated_at if generated_at is not None else datetime.now(UTC), chart_jobs
        )
    except BaseException:
        # A build that fails leaves no charts of its own behind.
        if chart_jobs is not None:
            chart_jobs.discard()
        raise
    input_files = [
        ArtifactFile(name=f.name, role=f.role, rows=f.rows, sha256=f.sha256)
        for f in inputs.files
        if f.present
    ]
    # The input frames are done with: freed before the tables are written, their memory serves the writes.
    del inputs
    draft, pnl, execution, llm = computed.draft, computed.pnl, computed.execution, computed.llm
    outputs = write_tables(
        target,
        {
            "trade-pnl": pnl.trades,
            "execution-latency": execution.latency,
            "latency-buckets": latency_bucket_table(draft.execution_quality.latency_buckets),
            "llm-review-summary": llm.summary,
            "equity-curve": pnl.equity_curve,
            "report-summary": summary_row(draft),
        },
    )
    chart_paths = chart_jobs.results() if chart_jobs is not None else {}
    outputs.extend(chart_artifact(target, path) for path in chart_paths.values())
    report = draft.model_copy(update={"artifacts": Artifacts(inputs=input_files, outputs=outputs)})
    markdown = render_markdown(
        report, {role: path.relative_to(target).as_posix() for role, path in chart_paths.items()}
    )
    json_path, markdown_path = write_report(target, report, markdown)
    return ReportResult(report=report, out_dir=target, json_path=json_path, markdown_path=markdown_path)
