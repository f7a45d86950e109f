"""The figures a person plots across days are numeric Dagster metadata: the report asset, its checks, the
simulation outputs (overhead seconds from run-state.json) and the dump, so the UI's plots over partitions
are filled; text stays text, and the exact decimals stay in the report files."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.figures import figure
from assets.partitions import trading_day_partitions
from assets.report import build_report_assets
from assets.simulation import outcome_metadata
from resources import DeploymentSettings, SimulationConfigResource
from resources.simulation import DayRun
from torghut_sim.layout import RunPaths
from torghut_sim.lifecycle import SimulationOutcome
from torghut_sim.naming import names_for_day
from torghut_sim.runtime.phase_timing import run_timing
from torghut_sim.runtime.state_machine import RunOutcome
from unit.report_builders import RunBuilder, at, default_manifest

DAY = date(2026, 3, 6)
NUMERIC = (dg.IntMetadataValue, dg.FloatMetadataValue)
REPORT_FIGURES = (
    "records",
    "coverage_ratio",
    "decisions",
    "executions",
    "fills",
    "realized_pnl",
    "unrealized_pnl",
    "net_pnl",
    "max_drawdown",
    "signal_to_decision_p95_ms",
    "decision_to_submit_p95_ms",
    "submit_to_first_event_p95_ms",
    "llm_error_rate",
)
VERDICT_FIGURES = (
    "decisions",
    "min_trade_decisions",
    "executions",
    "min_executions",
    "coverage_ratio",
    "strict_coverage_ratio",
    "llm_error_rate",
    "llm_error_rate_limit",
)


def _sample_day(output_root: Path) -> Path:
    """The spec's P&L vector (buy 2 @ 10, sell 1 @ 13, last 12) with an LLM review, as the day's run dir."""
    names = names_for_day(DAY)
    manifest = default_manifest()
    manifest["dataset_id"] = names.dataset_id
    manifest["window"]["trading_day"] = DAY.isoformat()
    builder = RunBuilder(output_root / names.run_token, run_id=names.run_id, manifest=manifest)
    buy = builder.decision("NVDA", run_id=names.run_id, signal_ts=at(0))
    bought = builder.execution(buy, "buy", "2", "10", fill_ts=at(2))
    builder.order_event(bought, buy, at(1))
    sell = builder.decision("NVDA", run_id=names.run_id, signal_ts=at(60))
    sold = builder.execution(sell, "sell", "1", "13", fill_ts=at(62))
    builder.order_event(sold, sell, at(61))
    builder.review(buy, "approve")
    builder.last_price("NVDA", "12")
    return builder.write()


def _materialize_report(output_root: Path) -> Any:
    partitions = trading_day_partitions(DeploymentSettings().partitions_start)
    config = SimulationConfigResource(template_path="unused.yaml", output_root=str(output_root))
    return dg.materialize(
        build_report_assets(partitions),
        partition_key=DAY.isoformat(),
        resources={"simulation_config": config},
    )


def test_the_report_materialization_carries_its_figures_as_numbers(tmp_path: Path) -> None:
    _sample_day(tmp_path)
    result = _materialize_report(tmp_path)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    not_numeric = {
        k: type(metadata.get(k)).__name__ for k in REPORT_FIGURES if not isinstance(metadata.get(k), NUMERIC)
    }
    assert not not_numeric, not_numeric
    # Counts are ints, money and ratios floats; the values are the report's own.
    assert isinstance(metadata["decisions"], dg.IntMetadataValue) and metadata["decisions"].value == 2
    assert isinstance(metadata["fills"], dg.IntMetadataValue) and metadata["fills"].value == 2
    pnl = {k: metadata[k].value for k in ("realized_pnl", "unrealized_pnl", "net_pnl")}
    assert pnl == {"realized_pnl": 3.0, "unrealized_pnl": 2.0, "net_pnl": 5.0}
    assert metadata["llm_error_rate"].value == 0.0
    # Text stays text: the verdict and its reasons are words, not figures.
    assert isinstance(metadata["verdict"], dg.TextMetadataValue)


def test_the_verdict_check_carries_each_figure_beside_its_threshold(tmp_path: Path) -> None:
    _sample_day(tmp_path)
    result = _materialize_report(tmp_path)
    evaluations = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    metadata = evaluations["verdict"].metadata
    not_numeric = {
        k: type(metadata.get(k)).__name__ for k in VERDICT_FIGURES if not isinstance(metadata.get(k), NUMERIC)
    }
    assert not not_numeric, not_numeric
    # The manifest's monitor minimums and the stability limit are what the verdict judged by.
    assert (metadata["min_trade_decisions"].value, metadata["min_executions"].value) == (1, 1)
    assert metadata["llm_error_rate_limit"].value == 0.05
    assert metadata["decisions"].value >= metadata["min_trade_decisions"].value


def _transition(phase: str, status: str, at_iso: str) -> dict[str, Any]:
    return {"phase": phase, "status": status, "at": at_iso, "details": {}}


RUN_STATE = [
    # An earlier attempt, cut short: its times are not the day's.
    _transition("run", "started", "2026-03-07T00:00:00Z"),
    _transition("replay", "started", "2026-03-07T00:00:10Z"),
    _transition("replay", "interrupted", "2026-03-07T00:05:00Z"),
    _transition("run", "failed", "2026-03-07T00:05:01Z"),
    # The attempt that finished: 100 s in all, 30 s replaying and 50 s monitoring.
    _transition("run", "started", "2026-03-07T01:00:00Z"),
    _transition("lock", "started", "2026-03-07T01:00:01Z"),
    _transition("lock", "succeeded", "2026-03-07T01:00:02Z"),
    _transition("replay", "started", "2026-03-07T01:00:10Z"),
    _transition("replay", "succeeded", "2026-03-07T01:00:40Z"),
    _transition("monitor", "started", "2026-03-07T01:00:40Z"),
    _transition("monitor", "succeeded", "2026-03-07T01:01:30Z"),
    _transition("run", "succeeded", "2026-03-07T01:01:40Z"),
]


def test_overhead_is_the_last_attempts_wall_time_outside_replay_and_monitor() -> None:
    timing = run_timing(RUN_STATE)
    assert timing.run_seconds == 100.0
    assert timing.phase_seconds == {"lock": 1.0, "replay": 30.0, "monitor": 50.0}
    assert timing.overhead_seconds == 20.0


def test_a_run_that_never_ended_has_no_overhead_figure() -> None:
    timing = run_timing(RUN_STATE[:-1])
    assert timing.run_seconds is None and timing.overhead_seconds is None
    assert isinstance(figure(timing.overhead_seconds), dg.NullMetadataValue)


def test_simulation_outputs_carry_activity_and_timing_as_numbers(tmp_path: Path) -> None:
    names = names_for_day(DAY)
    paths = RunPaths(tmp_path / names.run_token)
    paths.root.mkdir(parents=True)
    paths.run_state.write_text(json.dumps({"status": "succeeded", "transitions": RUN_STATE}))
    run = DayRun(day=DAY, names=names, paths=paths)
    outcome = SimulationOutcome(run=RunOutcome("succeeded", None, ()), contamination_status="clean")
    metadata = outcome_metadata(run, outcome)
    assert metadata["overhead_seconds"] == dg.MetadataValue.float(20.0)
    assert metadata["replay_seconds"] == dg.MetadataValue.float(30.0)
    assert metadata["run_seconds"] == dg.MetadataValue.float(100.0)
    assert isinstance(metadata["status"], str)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, dg.MetadataValue.int(3)),
        (Decimal("-12.50"), dg.MetadataValue.float(-12.5)),
        (0.95, dg.MetadataValue.float(0.95)),
        (None, dg.MetadataValue.null()),
    ],
)
def test_a_figure_is_an_int_a_float_or_a_gap(value: Any, expected: dg.MetadataValue) -> None:
    assert figure(value) == expected
