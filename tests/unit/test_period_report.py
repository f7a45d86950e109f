"""The period bundle from run directories: every day listed with its status, files, determinism, CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import pytest

from torghut_sim import cli
from torghut_sim.report.period import build_period_report, period_dir
from torghut_sim.report.period.days import read_day
from torghut_sim.report.period.schema import SCHEMA_PATH, period_json_schema, schema_text
from unit.period_builders import (
    day_paths,
    real_day,
    report_document,
    template_document,
    write_empty_day,
    write_failed_day,
    write_report_day,
)

D = Decimal
FROM, TO = date(2026, 2, 13), date(2026, 2, 24)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return template_document(tmp_path_factory.mktemp("template"))


def _range_root(root: Path, template: dict[str, Any]) -> Path:
    """2026-02-13 → 02-24 (02-16 is Presidents' Day): reported, failed, empty and unrun days."""
    write_report_day(
        root, date(2026, 2, 13), report_document(template, date(2026, 2, 13), {"NVDA": (4, "60", "50", "10")})
    )
    write_report_day(
        root,
        date(2026, 2, 17),
        report_document(
            template,
            date(2026, 2, 17),
            {"NVDA": (2, "-40", "0", "10"), "AMD": (4, "-90", "-5", "5")},
            verdict="WARN",
            reasons=("order_events_missing",),
            runtime_metrics={"decisions_total": 4, "decision_state": {"rejected": 1}},
        ),
    )
    write_failed_day(root, date(2026, 2, 18))
    write_report_day(
        root,
        date(2026, 2, 19),
        report_document(
            template,
            date(2026, 2, 19),
            {"AMD": (2, "-30", "0", "0.5")},
            runtime_metrics={"decisions_total": 6, "decision_state": {"rejected": 2}},
        ),
    )
    write_empty_day(root, date(2026, 2, 20))
    write_report_day(
        root,
        date(2026, 2, 23),
        report_document(
            template, date(2026, 2, 23), {"NVDA": (1, "120", "0", "0"), "AMD": (2, "80", "0", "0")}
        ),
    )
    return root


def test_every_trading_day_is_listed_with_its_status(tmp_path: Path, template: dict[str, Any]) -> None:
    result = build_period_report(_range_root(tmp_path, template), FROM, TO, with_charts=False)
    days = [(d.trading_day, d.status, d.verdict, d.net) for d in result.report.days]
    assert days == [
        ("2026-02-13", "reported", "PASS", D("100")),
        ("2026-02-17", "reported", "WARN", D("-150")),
        ("2026-02-18", "failed", None, None),
        ("2026-02-19", "reported", "PASS", D("-30.5")),
        ("2026-02-20", "empty_day", None, None),
        ("2026-02-23", "reported", "PASS", D("200")),
        ("2026-02-24", "not_run", None, None),
    ]
    by_day = {d.trading_day: d for d in result.report.days}
    assert by_day["2026-02-18"].detail == "replay: replay_failed"
    assert [r.code for r in by_day["2026-02-17"].verdict_reasons] == ["order_events_missing"]
    assert [(d.cumulative_net, d.drawdown) for d in result.report.days] == [
        (D("100"), D("0")),
        (D("-50"), D("150")),
        (D("-50"), D("150")),
        (D("-80.5"), D("180.5")),
        (D("-80.5"), D("180.5")),
        (D("119.5"), D("0")),
        (D("119.5"), D("0")),
    ]
    dd = result.report.drawdown
    assert (dd.max_drawdown, dd.peak_day, dd.trough_day, dd.recovered_day) == (
        D("180.5"),
        "2026-02-13",
        "2026-02-19",
        "2026-02-23",
    )
    assert [d.trading_day for d in dd.days] == ["2026-02-17", "2026-02-19"]
    totals = result.report.totals
    assert totals.net == D("119.5")
    assert totals.status_counts == {
        "reported": 4,
        "empty_day": 1,
        "failed": 1,
        "restore_required": 0,
        "in_progress": 0,
        "no_report": 0,
        "report_invalid": 0,
        "not_run": 1,
    }
    assert {s.symbol: s.net for s in result.report.by_symbol} == {"AMD": D("-50.5"), "NVDA": D("170")}
    runtime = result.report.runtime_metrics
    assert runtime.days_with_metrics == 2
    assert runtime.days_without_metrics == ["2026-02-13", "2026-02-23"]
    assert runtime.totals == {"decision_state.rejected": 3, "decisions_total": 10}
    codes = [c.code for c in result.report.caveats]
    assert "days_without_report" in codes and "runtime_metrics_partial" in codes


def test_run_states_map_to_day_statuses(tmp_path: Path, template: dict[str, Any]) -> None:
    day = date(2026, 2, 13)
    paths = day_paths(tmp_path, day)
    assert read_day(tmp_path, day).status == "not_run"
    paths.root.mkdir()
    assert (read_day(tmp_path, day).status, read_day(tmp_path, day).detail) == (
        "no_report",
        "no simulation-report.json",
    )
    paths.run_state.write_text(json.dumps({"status": "running", "transitions": []}))
    assert read_day(tmp_path, day).status == "in_progress"
    write_report_day(tmp_path, day, report_document(template, day, {"NVDA": (1, "1", "0", "0")}))
    assert read_day(tmp_path, day).status == "reported"
    # A rerun under way: the earlier report does not stand for the day until the rerun ends.
    paths.run_state.write_text(json.dumps({"status": "running", "transitions": []}))
    assert read_day(tmp_path, day).status == "in_progress"
    # A rerun that failed after an earlier report: the old report no longer stands for the day.
    write_failed_day(tmp_path, day, phase="monitor", reason="monitor_timeout")
    assert (read_day(tmp_path, day).status, read_day(tmp_path, day).detail) == (
        "failed",
        "monitor: monitor_timeout",
    )
    paths.restore_required.write_text("{}")
    assert read_day(tmp_path, day).status == "restore_required"
    paths.restore_required.unlink()
    paths.run_state.write_text(json.dumps({"status": "succeeded"}))
    (paths.report_dir / "simulation-report.json").write_text(
        '{"schema_version": "torghut.simulation-report.v0"}'
    )
    invalid = read_day(tmp_path, day)
    assert invalid.status == "report_invalid"
    assert invalid.detail is not None and invalid.detail.startswith(
        "not torghut.simulation-report.v1: schema_version"
    )


def test_bundle_files_tables_and_markdown(tmp_path: Path, template: dict[str, Any]) -> None:
    root = _range_root(tmp_path, template)
    result = build_period_report(root, FROM, TO)
    assert result.out_dir == period_dir(root, FROM, TO) == root / "periods" / "2026-02-13_2026-02-24"
    names = {p.relative_to(result.out_dir).as_posix() for p in result.out_dir.rglob("*") if p.is_file()}
    assert names == {
        "simulation-period-report.json",
        "simulation-period-report.md",
        "period-days.csv",
        "period-days.parquet",
        "period-symbols.csv",
        "period-symbols.parquet",
        "period-symbol-days.csv",
        "period-symbol-days.parquet",
        "charts/period-equity.svg",
        "charts/period-daily-pnl.svg",
        "charts/period-pnl-by-symbol.svg",
    }
    days = pl.read_parquet(result.out_dir / "period-days.parquet")
    assert days["status"].to_list() == [
        "reported",
        "reported",
        "failed",
        "reported",
        "empty_day",
        "reported",
        "not_run",
    ]
    assert days["trading_day"].dtype == pl.Date
    assert [str(v) if v is not None else None for v in days["net"].to_list()][:3] == [
        "100.00000000000000000000",
        "-150.00000000000000000000",
        None,
    ]
    symbol_days = pl.read_parquet(result.out_dir / "period-symbol-days.parquet")
    assert symbol_days.height == 6  # NVDA, then AMD+NVDA, AMD, AMD+NVDA
    assert symbol_days.filter(pl.col("symbol") == "AMD")["net"].sum() == D("-50.5")
    markdown = result.markdown_path.read_text()
    assert markdown.startswith(
        "# Simulation period report — 2026-02-13 → 2026-02-24\n\n**4 of 7 trading days reported**"
    )
    assert "![Cumulative equity and drawdown](charts/period-equity.svg)" in markdown
    assert "| 2026-02-18 | failed | — | — | — | -50 | 150 | — | replay: replay_failed |" in markdown
    assert "| 2026-02-19 | -30.5 |" in markdown  # a day of the worst drawdown
    inputs = [a.name for a in result.report.artifacts.inputs]
    assert inputs == [f"sim_202602{d}_01/report/simulation-report.json" for d in ("13", "17", "19", "23")]


def test_identical_inputs_give_identical_bytes(tmp_path: Path, template: dict[str, Any]) -> None:
    root = _range_root(tmp_path, template)
    first = build_period_report(
        root, FROM, TO, out_dir=tmp_path / "a", generated_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    second = build_period_report(
        root, FROM, TO, out_dir=tmp_path / "b", generated_at=datetime(2026, 3, 2, tzinfo=UTC)
    )
    a = {p.relative_to(first.out_dir): p.read_bytes() for p in first.out_dir.rglob("*") if p.is_file()}
    b = {p.relative_to(second.out_dir): p.read_bytes() for p in second.out_dir.rglob("*") if p.is_file()}
    assert a.keys() == b.keys()
    differing = sorted(str(name) for name in a if a[name] != b[name])
    assert differing == ["simulation-period-report.json", "simulation-period-report.md"]
    for name in differing:
        key = Path(name)
        assert a[key].replace(b"2026-03-01T00:00:00Z", b"T") == b[key].replace(b"2026-03-02T00:00:00Z", b"T")


def test_committed_schema_is_current_and_validates_a_report(tmp_path: Path, template: dict[str, Any]) -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "run `python -m torghut_sim.report.period.schema` and commit the result"
    )
    result = build_period_report(_range_root(tmp_path, template), FROM, TO, with_charts=False)
    document = json.loads(result.json_path.read_text())
    jsonschema.Draft202012Validator(period_json_schema()).validate(document)
    assert document["schema_version"] == "torghut.simulation-period-report.v1"
    assert document["totals"]["net"] == "119.5"
    document["totals"]["net"] = 119.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, period_json_schema())


def test_real_day_reports_combine(tmp_path: Path) -> None:
    real_day(tmp_path, date(2026, 3, 6), ("10", "13"))
    real_day(tmp_path, date(2026, 3, 9), ("20", "19"))
    result = build_period_report(tmp_path, date(2026, 3, 6), date(2026, 3, 9), with_charts=False)
    assert [(d.trading_day, d.net, d.cumulative_net) for d in result.report.days] == [
        ("2026-03-06", D("3"), D("3")),
        ("2026-03-09", D("-1"), D("2")),
    ]
    assert result.report.runtime_metrics.days_without_metrics == ["2026-03-06", "2026-03-09"]


def test_bad_ranges_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"\[period_range_invalid\]"):
        build_period_report(tmp_path, date(2026, 2, 20), date(2026, 2, 13))
    with pytest.raises(Exception, match=r"\[period_no_trading_days\]"):
        build_period_report(tmp_path, date(2026, 2, 14), date(2026, 2, 16))
    with pytest.raises(Exception, match=r"\[period_output_root_missing\]"):
        build_period_report(tmp_path / "absent", FROM, TO)
    assert not (tmp_path / "periods").exists()


def test_cli_builds_a_range(
    tmp_path: Path, template: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root = _range_root(tmp_path, template)
    argv = ["report", "--output-root", str(root), "--from-date", "2026-02-13", "--to-date", "2026-02-24"]
    assert cli.main([*argv, "--no-charts"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(
        "period 2026-02-13_2026-02-24: 4/7 days reported (PASS 3, WARN 1; empty_day 1, failed 1, not_run 1)"
    )
    assert out.endswith(
        "net 119.5, max drawdown 180.5 " + str(period_dir(root, FROM, TO) / "simulation-period-report.json")
    )
    assert cli.main([*argv, "--no-charts", "--fail-on", "warn"]) == 3
    assert cli.main([*argv, "--no-charts", "--fail-on", "fail"]) == 0


def test_cli_refuses_mixed_or_half_ranges(tmp_path: Path) -> None:
    for argv in (
        ["report", "--run-dir", str(tmp_path), "--from-date", "2026-02-13", "--to-date", "2026-02-24"],
        ["report", "--from-date", "2026-02-13"],
        ["report", "--from-date", "2026-02-13", "--to-date", "2026-02-24"],
    ):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
