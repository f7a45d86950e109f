"""The lean paths of the day report: exact wide decimals, column projection, slices, whole-table scope."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torghut_sim.layout import RunPaths
from torghut_sim.report import inputs
from torghut_sim.report.arrays import decimal_array
from torghut_sim.report.errors import ReportError, ReportInputInvalidError
from torghut_sim.report.inputs import load_run
from unit.report_builders import RunBuilder, at


def test_decimal_columns_keep_every_digit_beyond_int64() -> None:
    wide = decimal_array([1, -2, 10**30, -(10**37)], 20)
    assert str(wide.dtype) == "Decimal(precision=38, scale=20)"
    assert wide.to_list() == [Decimal("1E-20"), Decimal("-2E-20"), Decimal("10000000000"), Decimal("-1E+17")]
    narrow = decimal_array([5, -5, 0], 10)
    assert narrow.to_physical().to_list() == [5, -5, 0]
    # Finer than 28 digits rounds half-even at 28: 15 → 2, 25 → 2, -15 → -2 (at scale 29).
    assert decimal_array([15, 25, -15], 29).to_physical().to_list() == [2, 2, -2]


@pytest.mark.parametrize("value", [10**38, -(10**38), 2**127])
def test_decimal_columns_refuse_more_than_38_digits(value: int) -> None:
    with pytest.raises(ReportError) as info:
        decimal_array([1, value], 0)
    assert info.value.reason == "report_decimal_overflow"


def test_an_unread_contract_column_must_still_be_in_the_file(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "sim_20260306_01")
    d = builder.decision()
    e = builder.execution(d, "buy", "1", "10")
    builder.order_event(e, d, at(1))
    builder.write()
    path = RunPaths(builder.root).output_table("execution_order_events")
    table = pq.read_table(path)
    assert "source_offset" not in inputs.READ_COLUMNS["execution_order_events"]
    pq.write_table(table.drop_columns(["source_offset"]), path)
    with pytest.raises(ReportInputInvalidError, match=r"lacks columns \['source_offset'\]"):
        load_run(builder.root)


def test_slices_decode_like_one_pass_and_a_bad_document_spoils_only_its_slice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "_DECODE_ROWS", 2)
    builder = RunBuilder(tmp_path / "sim_20260306_01")
    ids = [builder.decision(signal_ts=at(i)) for i in range(5)]
    builder.write()
    path = RunPaths(builder.root).output_table("trade_decisions")
    rows = pq.read_table(path).to_pylist()
    rows[4]["decision_json"] = '{"params": {"simulation_context": {"simulation_run_id": "sim-20260306-01"'
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(path)), path)
    loaded = load_run(builder.root).decisions
    # Rows 0-3 decode in their slices; row 4 (its own slice) falls back and finds nothing.
    assert loaded["id"].to_list() == ids[:4]
    assert loaded["signal_ts"].to_list() == [at(i) for i in range(4)]
    assert (
        json.loads(rows[0]["decision_json"])["params"]["simulation_context"]["simulation_run_id"]
        == "sim-20260306-01"
    )


def test_slices_with_different_time_layouts_and_sources_decode_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "_DECODE_ROWS", 2)
    builder = RunBuilder(tmp_path / "sim_20260306_01")
    builder.decision(signal_ts=at(1))  # slice 1: context time, "Z"
    builder.decision(event_ts=at(2))  # slice 1: no context time, the event time
    builder.decision(signal_ts=at(3))  # slice 2: rewritten below with an offset
    builder.decision()  # slice 2: no time at all
    builder.write()
    path = RunPaths(builder.root).output_table("trade_decisions")
    rows = pq.read_table(path).to_pylist()
    rows[2]["decision_json"] = rows[2]["decision_json"].replace("Z", "+00:00")
    assert "+00:00" in rows[2]["decision_json"]
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(path)), path)
    loaded = load_run(builder.root).decisions
    assert loaded["signal_ts"].to_list() == [at(1), at(2), at(3), None]
    sources = ["simulation_context", "event_ts", "simulation_context", None]
    assert loaded["signal_ts_source"].to_list() == sources
    assert loaded["run_ref"].to_list() == ["sim-20260306-01"] * 4


def test_whole_scope_keeps_the_tables_and_counts_unlinked_events(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "sim_20260306_01")
    d = builder.decision()
    e = builder.execution(d, "buy", "1", "10")
    builder.order_event(e, d, at(1))
    builder.order_event(e, None, at(2))  # linked by execution only
    builder.order_event(None, d, at(3))  # linked by decision only
    builder.order_event("e-elsewhere", "d-elsewhere", at(4))  # linked to nothing in the files
    loaded = load_run(builder.write())
    assert loaded.order_events.height == 3
    assert loaded.order_events_unlinked == 1
    assert loaded.executions_unlinked == 0
