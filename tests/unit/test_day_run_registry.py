"""The day-run registry: every run directory a pipeline touched, with its outcome, ids, paths and hashes."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import yaml

from torghut_sim.layout import RunPaths
from torghut_sim.report import build_report
from torghut_sim.report.catalog import build_catalog
from torghut_sim.report.registry import day_runs, read_day_run
from unit.report_builders import RunBuilder, at, default_manifest


def _run_dir(root: Path, day: str) -> RunPaths:
    compact = day.replace("-", "")
    paths = RunPaths(root / f"sim_{compact}_01")
    paths.root.mkdir(parents=True)
    paths.manifest.write_text(yaml.safe_dump({"dataset_id": f"torghut-trades-{compact}"}))
    paths.plan.write_text(json.dumps({"run_id": f"sim-{compact}-01"}))
    return paths


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


def _marker(paths: RunPaths, status: str = "complete", records: int = 100) -> None:
    _write(
        paths.dump_marker,
        {"status": status, "records": records, "sha256": "f" * 64, "payload_sha256": "a" * 64},
    )


def _state(paths: RunPaths, status: str) -> None:
    _write(
        paths.run_state, {"run_id": paths.root.name.replace("_", "-"), "status": status, "transitions": []}
    )


def _reported(root: Path, day: str) -> RunPaths:
    compact = day.replace("-", "")
    manifest = default_manifest()
    manifest["dataset_id"] = f"torghut-trades-{compact}"
    builder = RunBuilder(root / f"sim_{compact}_01", run_id=f"sim-{compact}-01", manifest=manifest)
    d = builder.decision("NVDA", run_id=f"sim-{compact}-01", signal_ts=at(0))
    execution = builder.execution(d, "buy", "1", "10", fill_ts=at(1))
    builder.order_event(execution, d, at(2))
    builder.tca(execution, d)
    build_report(builder.write(), with_charts=False)
    return RunPaths(builder.root)


def test_a_reported_day_carries_its_verdict_ids_and_hashes(tmp_path: Path) -> None:
    paths = _reported(tmp_path, "2026-03-06")
    row = read_day_run(paths.root)
    report = paths.report_dir / "simulation-report.json"
    assert (row.outcome, row.done, row.verdict) == ("PASS", True, "PASS")
    assert (row.run_id, row.trading_day, row.run_token) == (
        "sim-20260306-01",
        date(2026, 3, 6),
        "sim_20260306_01",
    )
    assert row.report_sha256 == hashlib.sha256(report.read_bytes()).hexdigest()
    assert row.report_path == str(report) and row.manifest_path == str(paths.manifest)
    assert row.dump_sha256 is not None and row.restore_required is False


def test_every_outcome_of_an_unreported_day(tmp_path: Path) -> None:
    empty = _run_dir(tmp_path, "2026-02-10")
    _marker(empty, "empty_day", 0)
    failed = _run_dir(tmp_path, "2026-03-10")
    _marker(failed)
    _state(failed, "failed")
    restore = _run_dir(tmp_path, "2026-03-11")
    _marker(restore)
    _state(restore, "failed")
    _write(restore.restore_required, {"commands": ["torghut-sim teardown"]})
    manual = _run_dir(tmp_path, "2026-03-12")
    _marker(manual)
    _state(manual, "manual_cleanup_required")
    dumped = _run_dir(tmp_path, "2026-03-13")
    _marker(dumped)
    planned = _run_dir(tmp_path, "2026-03-16")
    running = _run_dir(tmp_path, "2026-03-17")
    _marker(running)
    _state(running, "running")
    (tmp_path / "not-a-run").mkdir()
    rows = {r.run_token: r for r in day_runs(tmp_path)}
    outcomes = {token: (r.outcome, r.done) for token, r in rows.items()}
    assert outcomes == {
        "sim_20260210_01": ("empty_day", True),
        "sim_20260310_01": ("failed", False),
        "sim_20260311_01": ("restore_required", False),
        "sim_20260312_01": ("manual_cleanup_required", False),
        "sim_20260313_01": ("dumped", False),
        "sim_20260316_01": ("planned", False),
        "sim_20260317_01": ("running", False),
    }
    assert rows["sim_20260311_01"].restore_required_path == str(restore.restore_required)
    assert rows["sim_20260310_01"].run_id == "sim-20260310-01" and rows["sim_20260310_01"].dump_records == 100
    assert rows["sim_20260316_01"].run_id == "sim-20260316-01" and rows["sim_20260316_01"].dump_sha256 is None
    assert planned.root.name in rows and "not-a-run" not in rows


def test_a_failed_rerun_after_a_report_is_failed_and_a_cut_short_report_is_not_done(tmp_path: Path) -> None:
    rerun = _reported(tmp_path, "2026-03-06")
    _state(rerun, "failed")
    report = rerun.report_dir / "simulation-report.json"
    os.utime(report, (1, 1))  # the report predates the failed attempt
    assert read_day_run(rerun.root).outcome == "failed"
    cut = _reported(tmp_path, "2026-03-09")
    _write(cut.monitor, {"complete": False, "problems": ["monitor_timeout"]})
    row = read_day_run(cut.root)
    assert (row.outcome, row.done) == ("inputs_incomplete", False)


def test_one_query_answers_which_days_are_not_done_and_why(tmp_path: Path) -> None:
    _reported(tmp_path, "2026-03-06")
    failed = _run_dir(tmp_path, "2026-03-10")
    _marker(failed)
    _state(failed, "failed")
    build = build_catalog(tmp_path)
    assert (build.day_runs, build.not_done) == (2, 1)
    with duckdb.connect(str(build.path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT CAST(trading_day AS VARCHAR), run_id, outcome, reason FROM day_runs WHERE NOT done"
        ).fetchall()
        every = conn.execute("SELECT run_token, outcome, report_sha256 IS NOT NULL FROM day_runs").fetchall()
    assert rows == [
        ("2026-03-10", "sim-20260310-01", "failed", "the last attempt ended failed without a report")
    ]
    assert every == [("sim_20260306_01", "PASS", True), ("sim_20260310_01", "failed", False)]


def test_an_empty_output_root_still_has_the_table(tmp_path: Path) -> None:
    build = build_catalog(tmp_path)
    with duckdb.connect(str(build.path), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM day_runs").fetchall() == [(0,)]
