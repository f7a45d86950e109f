"""The stability section: anomalies of the run, runtime component errors, signal gaps, stop flags."""

from __future__ import annotations

import numpy as np
import polars as pl

from torghut_sim.report.figures import rounded
from torghut_sim.report.inputs import RunInputs
from torghut_sim.report.model import (
    Anomaly,
    ComponentProgress,
    Coverage,
    ExecutionQuality,
    Funnel,
    Llm,
    Severity,
    Stability,
)

LLM_ERROR_RATE_LIMIT = 0.05
FALLBACK_RATIO_LIMIT = 0.20
_STOP_KEYS = ("emergency_stop", "rollback", "kill_switch")


def _progress_rows(inputs: RunInputs) -> pl.DataFrame:
    progress = inputs.progress
    settings = inputs.settings
    mine = progress.filter(pl.col("run_id").is_in([settings.run_id, settings.run_token]))
    # A progress table of one run may not carry our id spelling; then every row is ours.
    return mine if mine.height else progress


def _components(progress: pl.DataFrame) -> list[ComponentProgress]:
    latest = (
        progress.sort("component", "updated_at", nulls_last=False)
        .group_by("component", maintain_order=True)
        .last()
    )
    return [
        ComponentProgress(
            component=str(row["component"] or "unknown"),
            status=row["status"],
            last_error=(row["last_error"] or None),
        )
        for row in latest.iter_rows(named=True)
    ]


def _stop_flags(progress: pl.DataFrame) -> int:
    doc = pl.col("payload_json")
    flags = [
        doc.str.json_path_match(f"$.{key}").str.to_lowercase().is_in(["true", "1"]).fill_null(value=False)
        for key in _STOP_KEYS
    ]
    return int(progress.select(pl.any_horizontal(*flags).sum()).item()) if progress.height else 0


def longest_signal_gap_minutes(inputs: RunInputs) -> float | None:
    """Longest stretch of the window without a decision's signal, window edges included."""
    settings = inputs.settings
    points = inputs.decisions["signal_ts"].drop_nulls().sort().dt.epoch("us").to_numpy()
    if settings.window_start is not None and settings.window_end is not None:
        start = int(settings.window_start.timestamp() * 1_000_000)
        end = int(settings.window_end.timestamp() * 1_000_000)
        inside = points[(points >= start) & (points <= end)]
        points = np.concatenate(
            [np.asarray([start], dtype=np.int64), inside, np.asarray([end], dtype=np.int64)]
        )
    if len(points) < 2:
        return None
    gap = int(np.diff(points).max())
    return rounded(gap / 60_000_000, 3)


def build_stability(
    inputs: RunInputs, coverage: Coverage, funnel: Funnel, execution: ExecutionQuality, llm: Llm
) -> Stability:
    """Anomalies and health figures of the run."""
    anomalies: list[Anomaly] = []

    def add(code: str, severity: Severity, message: str) -> None:
        anomalies.append(Anomaly(code=code, severity=severity, message=message))

    if funnel.decisions == 0:
        add("no_decisions", "fail", "the runtime made no trade decisions for this run")
    if funnel.executions == 0:
        add("no_executions", "fail", "no decision led to an execution")
    if funnel.order_events == 0:
        add("no_order_events", "warn", "no order lifecycle events were recorded")
    if coverage.meets_strict_ratio is False:
        add(
            "coverage_below_strict_ratio",
            "fail",
            f"session coverage {coverage.coverage_ratio} < {coverage.strict_coverage_ratio}",
        )
    if coverage.offset_gap_records:
        add(
            "offset_gaps",
            "warn",
            f"{coverage.offset_gap_records} offsets missing in {len(coverage.partitions_with_offset_gaps)} "
            "partitions",
        )
    if coverage.replay_matches_dump is False:
        add("replay_mismatch", "warn", "the replay marker does not match the dump (hash or record count)")
    if llm.error_rate is not None and llm.error_rate > LLM_ERROR_RATE_LIMIT:
        add("llm_error_rate_high", "warn", f"LLM error rate {llm.error_rate} > {LLM_ERROR_RATE_LIMIT}")
    if execution.fallback_ratio is not None and execution.fallback_ratio > FALLBACK_RATIO_LIMIT:
        add("fallback_ratio_high", "warn", f"execution fallback ratio {execution.fallback_ratio} > 0.2")
    if inputs.executions_unlinked:
        add("executions_unlinked", "warn", f"{inputs.executions_unlinked} executions reference no decision")

    progress = _progress_rows(inputs)
    components = _components(progress)
    errors = [c for c in components if c.last_error]
    feature_errors = [c for c in errors if "feature" in (c.last_error or "").lower()]
    for component in errors:
        code = "feature_quality_error" if component in feature_errors else "runtime_error"
        add(code, "warn", f"{component.component}: {component.last_error}")
    stops = _stop_flags(progress)
    if stops:
        add("emergency_stop_flagged", "warn", f"{stops} progress rows carry an emergency-stop/rollback flag")
    return Stability(
        anomalies=anomalies,
        components=components,
        runtime_errors=len(errors),
        feature_quality_errors=len(feature_errors),
        longest_signal_gap_minutes=longest_signal_gap_minutes(inputs),
        emergency_stop_flags=stops,
    )
