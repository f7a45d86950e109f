"""Loading a run directory: scoping by run id, linking by execution/decision, defensive reading."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torghut_sim.layout import RunPaths
from torghut_sim.report.errors import ReportInputInvalidError, RunDirMissingError
from torghut_sim.report.inputs import load_run
from unit.report_builders import OPEN, RunBuilder, at


@pytest.fixture
def builder(tmp_path: Path) -> RunBuilder:
    return RunBuilder(tmp_path / "sim_20260306_01")


def test_scoping_by_run_id_keeps_only_this_run(builder: RunBuilder) -> None:
    mine = builder.decision(run_id="sim-20260306-01")
    other = builder.decision(run_id="sim-20260305-01")
    e_mine = builder.execution(mine, "buy", "1", "10")
    e_other = builder.execution(other, "buy", "1", "10")
    builder.order_event(e_mine, mine, at(5))
    builder.order_event(e_other, other, at(5))
    builder.tca(e_mine, mine)
    builder.tca(e_other, other)
    builder.review(mine, "approve")
    builder.review(other, "approve")
    inputs = load_run(builder.write())
    assert inputs.scoped_by_run_id
    assert inputs.decisions["id"].to_list() == [mine]
    assert inputs.decisions_out_of_scope == 1
    assert inputs.executions["id"].to_list() == [e_mine]
    assert inputs.order_events["execution_id"].to_list() == [e_mine]
    assert inputs.tca["execution_id"].to_list() == [e_mine]
    assert inputs.llm_reviews["trade_decision_id"].to_list() == [mine]
    assert inputs.order_events_unlinked == 0


def test_run_token_spelling_matches(builder: RunBuilder) -> None:
    builder.decision(run_id="SIM_20260306_01")
    inputs = load_run(builder.write())
    assert inputs.decisions.height == 1


def test_all_decisions_count_when_none_names_a_run(builder: RunBuilder) -> None:
    builder.decision(run_id=None)
    builder.decision(run_id=None)
    inputs = load_run(builder.write())
    assert not inputs.scoped_by_run_id
    assert inputs.decisions.height == 2


def test_run_id_falls_back_to_directory_name(builder: RunBuilder) -> None:
    builder.decision(run_id="sim-20260306-01")
    builder.decision(run_id="sim-20260306-02")
    inputs = load_run(builder.write(run_state=False))
    assert inputs.settings.run_id == "sim_20260306_01"
    assert inputs.decisions.height == 1


def test_unlinked_order_events_and_executions_are_counted(builder: RunBuilder) -> None:
    decision = builder.decision()
    execution = builder.execution(decision, "buy", "1", "10")
    builder.execution("no-such-decision", "buy", "1", "10")
    builder.order_event("no-such-execution", None, at(3))
    builder.order_event(None, decision, at(4))  # no execution id, but our decision: in scope
    builder.order_event(execution, decision, at(5))
    inputs = load_run(builder.write())
    assert inputs.executions_unlinked == 1
    assert inputs.order_events_unlinked == 1
    assert inputs.order_events.height == 2


def test_rows_link_by_execution_first_then_by_decision_in_a_scoped_run(builder: RunBuilder) -> None:
    mine = builder.decision(run_id="sim-20260306-01")
    other = builder.decision(run_id="sim-20260305-01")
    e_mine = builder.execution(mine, "buy", "1", "10")
    e_other = builder.execution(other, "buy", "1", "10")
    builder.order_event(e_other, mine, at(1))  # another run's execution: its run's, whatever the decision
    builder.order_event("unknown", mine, at(2))  # execution not in the file: our decision decides
    builder.order_event("unknown", other, at(3))  # … and here the other run's
    builder.order_event("unknown", "nobody", at(4))  # links to nothing at all
    builder.order_event(e_mine, None, at(5))
    builder.tca(e_other, mine)
    builder.tca("unknown", mine)
    builder.tca("unknown", other)
    inputs = load_run(builder.write())
    assert inputs.order_events["event_ts"].to_list() == [at(2), at(5)]
    assert inputs.order_events_unlinked == 1
    assert inputs.tca["execution_id"].to_list() == ["unknown"]
    assert inputs.tca["trade_decision_id"].to_list() == [mine]
    assert inputs.executions["id"].to_list() == [e_mine]
    assert inputs.executions_unlinked == 0


def test_signal_time_prefers_simulation_context(builder: RunBuilder) -> None:
    builder.decision(signal_ts=at(10), event_ts=at(20))
    builder.decision(event_ts=at(30))
    builder.decision()
    inputs = load_run(builder.write())
    assert inputs.decisions["signal_ts"].to_list() == [at(10), at(30), None]
    assert inputs.decisions["signal_ts_source"].to_list() == ["simulation_context", "event_ts", None]


def test_signal_time_parses_offsets_and_naive_text(builder: RunBuilder) -> None:
    builder.decision()
    builder.write()
    paths = RunPaths(builder.root)
    docs = [
        {"event_ts": "2026-03-06T09:30:05-05:00"},
        {"event_ts": "2026-03-06T14:30:05.250"},
        {"event_ts": "not a time"},
    ]
    table = pq.read_table(paths.output_table("trade_decisions"))
    rows = [
        dict(table.to_pylist()[0], id=f"x{i}", decision_json=json.dumps(doc)) for i, doc in enumerate(docs)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), paths.output_table("trade_decisions"))
    stamps = load_run(builder.root).decisions["signal_ts"].to_list()
    assert stamps[0] == at(5)
    assert stamps[1] == at(5.25)
    assert stamps[2] is None


def test_missing_optional_inputs_are_empty_not_fatal(builder: RunBuilder) -> None:
    inputs = load_run(
        builder.write(coverage=None, run_state=False, skip_tables=("executions", "last_prices"))
    )
    assert inputs.dump_marker is None
    assert inputs.replay_marker is None
    assert inputs.executions.height == 0
    assert inputs.missing_tables == ["outputs/executions.parquet", "outputs/last_prices.parquet"]


def test_missing_run_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunDirMissingError) as info:
        load_run(tmp_path / "nope")
    assert info.value.reason == "report_run_dir_missing"


def test_wrong_schema_is_refused(builder: RunBuilder) -> None:
    builder.write()
    pq.write_table(pa.table({"id": ["x"]}), RunPaths(builder.root).output_table("executions"))
    with pytest.raises(ReportInputInvalidError) as info:
        load_run(builder.root)
    assert info.value.reason == "report_input_invalid"
    assert "executions.parquet" in str(info.value)


def test_manifest_settings_are_read(builder: RunBuilder) -> None:
    builder.manifest["monitor"]["min_trade_decisions"] = 5
    builder.manifest["reporting"] = {
        "commission_bps": 0.5,
        "per_trade_fee": "1",
        "llm_price_per_1k_tokens": "0.002",
    }
    settings = load_run(builder.write()).settings
    assert settings.min_trade_decisions == 5
    assert str(settings.commission_bps) == "0.5"
    assert str(settings.llm_price_per_1k_tokens) == "0.002"
    assert settings.window_start == OPEN
    assert settings.strict_coverage_ratio == 0.95


def test_malformed_decision_json_falls_back_to_tolerant_lookup(builder: RunBuilder) -> None:
    builder.decision(signal_ts=at(10))
    builder.decision(signal_ts=at(20))
    builder.tables["trade_decisions"][1]["decision_json"] = "{not json"
    builder.tables["trade_decisions"].append(
        dict(builder.tables["trade_decisions"][0], id="typed-oddly", decision_json='{"event_ts": 12345}')
    )
    inputs = load_run(builder.write())
    # The first decision names the run, so scoping is on; the broken ones carry no run id and drop out.
    assert inputs.decisions["id"].to_list() == ["d-0001"]
    assert inputs.decisions["signal_ts"].to_list() == [at(10)]
    assert inputs.decisions_out_of_scope == 2
