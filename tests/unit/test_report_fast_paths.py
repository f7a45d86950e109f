"""Integer-series decimals and early chart renders: exact digits, nulls, overflow, nothing left on failure."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from torghut_sim.report import build_report
from torghut_sim.report.arrays import decimal_column
from torghut_sim.report.errors import ReportError
from torghut_sim.report.inputs import load_run
from unit.report_builders import RunBuilder, at


def test_integer_series_become_exact_decimals() -> None:
    values = pl.Series([1, -2, 10**30, None], dtype=pl.Int128)
    wide = decimal_column(values, 20)
    assert str(wide.dtype) == "Decimal(precision=38, scale=20)"
    assert wide.to_list() == [Decimal("1E-20"), Decimal("-2E-20"), Decimal("10000000000"), None]
    # A slice keeps its own rows; finer than 28 digits rounds half-even at 28 (15 → 2, -15 → -2 at 29).
    assert decimal_column(values.slice(1, 2), 0).to_physical().to_list() == [-2, 10**30]
    fine = pl.Series([15, 25, -15], dtype=pl.Int128)
    assert decimal_column(fine, 29).to_physical().to_list() == [2, 2, -2]


def test_integer_series_beyond_38_digits_are_refused() -> None:
    with pytest.raises(ReportError) as info:
        decimal_column(pl.Series([1, 10**38], dtype=pl.Int128), 2)
    assert info.value.reason == "report_decimal_overflow"


def test_a_failed_build_leaves_no_charts(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    d = builder.decision()
    # 10¹⁵ × 10¹⁵ is 30 integer digits: at scale 20 the notional needs 50 digits.
    builder.trade("buy", "1000000000000000", "1000000000000000", fill_ts=at(60))
    builder.order_event(builder.execution(d, "buy", "1", "10"), d, at(61))
    out = tmp_path / "report"
    with pytest.raises(ReportError) as info:
        build_report(builder.write(), out)
    assert info.value.reason == "report_decimal_overflow"
    assert not out.exists()


def test_a_build_failing_after_its_first_tables_leaves_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = RunBuilder(tmp_path / "run")
    d = builder.decision()
    builder.order_event(builder.execution(d, "buy", "1", "10"), d, at(61))
    run = builder.write()

    def broken(inputs: object) -> object:
        raise ReportError("the execution section broke", reason="test_failure")

    kept = tmp_path / "kept"
    build_report(run, kept, with_charts=False)
    before = {p.name: p.read_bytes() for p in kept.iterdir()}
    # The P&L tables are queued for writing before the execution section is computed.
    monkeypatch.setattr("torghut_sim.report.api.build_execution", broken)
    out = tmp_path / "deep" / "report"
    with pytest.raises(ReportError):
        build_report(run, out)
    assert not (tmp_path / "deep").exists()
    # An earlier bundle in the target stays as it was: no table of the failed build replaced its own.
    with pytest.raises(ReportError):
        build_report(run, kept)
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == before


def test_longest_signal_gap_counts_the_window_edges_and_ignores_signals_outside(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    for seconds in (-300, 60, 600, 660):  # the first is before the open: outside the window
        builder.decision(signal_ts=at(seconds))
    report = build_report(builder.write(), tmp_path / "report", with_charts=False).report
    # Gaps: open→1 min, 1→10 min, 10→11 min, 11 min→close (390 min session): the last, 379 min.
    assert report.stability.longest_signal_gap_minutes == 379.0


def test_longest_signal_gap_without_signals_is_the_whole_window(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.decision(signal_ts=at(-60))
    report = build_report(builder.write(), tmp_path / "report", with_charts=False).report
    assert report.stability.longest_signal_gap_minutes == 390.0


def test_scope_keeps_every_decision_naming_the_run_and_drops_unnamed_ones(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "all")
    first, second = builder.decision(), builder.decision()  # both name this run by its id
    inputs = load_run(builder.write())
    assert inputs.scoped_by_run_id
    assert inputs.decisions["id"].to_list() == [first, second]
    mixed = RunBuilder(tmp_path / "mixed")
    named = mixed.decision()
    mixed.decision(run_id=None)  # names no run, while another does: out of scope
    inputs = load_run(mixed.write())
    assert inputs.decisions["id"].to_list() == [named]
    assert inputs.decisions_out_of_scope == 1
