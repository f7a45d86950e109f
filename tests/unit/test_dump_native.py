"""The Python side of the native dump: the job, the result mapping, progress and errors (fake engines)."""

from __future__ import annotations

import json
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from torghut_sim.dump import passes
from torghut_sim.dump.consume import DumpTuning, PartitionState
from torghut_sim.dump.coverage import CoverageAccumulator
from torghut_sim.dump.dumper import dump_source
from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.native import NativeDumpPlan, apply_result, dump_job, run_native_dump
from torghut_sim.dump.record import PartitionLineEncoder
from torghut_sim.dump.request import DumpRequest
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import ENGINE_ENV, ENGINE_VERSION, connection_job
from torghut_sim.kafka.progress import Progress

W0 = 1_772_807_400_000
MIN = 60_000
SASL = KafkaConnection(
    "b1:9092, b2:9092",
    security_protocol="SASL_SSL",
    sasl_mechanism="SCRAM-SHA-512",
    sasl_username="sim",
    sasl_password="s3cret-pw",
)


def _states() -> list[PartitionState]:
    return [
        PartitionState("src.trades", 0, 10, 20, PartitionLineEncoder("src.trades", 0, "r.trades")),
        PartitionState("src.trades", 1, 5, 5, PartitionLineEncoder("src.trades", 1, "r.trades")),
        PartitionState("src.bars", 0, 0, 3, PartitionLineEncoder("src.bars", 0, "r.bars")),
    ]


def _plan(tmp_path: Path) -> NativeDumpPlan:
    return NativeDumpPlan(
        dump_path=tmp_path / "out" / "source-dump.jsonl.zst",
        spill_dir=tmp_path / "spill",
        window_ms=(W0, W0 + 10 * MIN),
        session_ms=(W0 + MIN, W0 + 10 * MIN),
        replay_topics={"src.trades": "r.trades", "src.bars": "r.bars"},
    )


def _result(**overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "event": "result",
        "records": 7,
        "sha256": "f" * 64,
        "payload_sha256": "a" * 64,
        "size_bytes": 321,
        "skipped": 2,
        "streamed": True,
        "spilled_runs": 3,
        "min_timestamp_ms": W0 + 5,
        "max_timestamp_ms": W0 + 9 * MIN,
        "coverage": {"covered_minutes": [0, 4], "first_ts_ms": W0 + MIN, "last_ts_ms": W0 + 5 * MIN + 1},
        "partitions": [
            {"topic": "src.trades", "partition": 0, "seen": 9, "kept": 6, "first": 11, "last": 19},
            {"topic": "src.trades", "partition": 1, "seen": 0, "kept": 0, "first": -1, "last": -1},
            {"topic": "src.bars", "partition": 0, "seen": 1, "kept": 1, "first": 2, "last": 2},
        ],
    }
    result.update(overrides)
    return result


def test_the_job_carries_the_plan_the_tuning_and_the_connection(tmp_path: Path) -> None:
    tuning = DumpTuning(native_chunk_bytes=1234, zstd_level=3, order_horizon_ms=0, stall_timeout_seconds=2.5)
    job = dump_job(SASL, _plan(tmp_path), _states(), tuning, tmp_path / "runs")
    assert job["brokers"] == ["b1:9092", "b2:9092"]
    assert (job["security_protocol"], job["sasl_mechanism"], job["sasl_username"]) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "sim",
    )
    assert job["sasl_password"] == "s3cret-pw"  # on stdin only: the engine needs it to authenticate
    assert job["partitions"][0] == {
        "topic": "src.trades",
        "partition": 0,
        "start": 10,
        "end": 20,
        "replay_topic": "r.trades",
    }
    assert [p["replay_topic"] for p in job["partitions"]] == ["r.trades", "r.trades", "r.bars"]
    assert (job["window_start_ms"], job["window_end_ms"]) == (W0, W0 + 10 * MIN)
    assert (job["session_start_ms"], job["session_end_ms"]) == (W0 + MIN, W0 + 10 * MIN)
    assert job["dump_path"] == str(tmp_path / "out" / "source-dump.jsonl.zst")
    assert job["spill_dir"] == str(tmp_path / "runs")
    assert (job["memory_budget_bytes"], job["zstd_level"], job["order_horizon_ms"]) == (1234, 3, 0)
    assert job["stall_timeout_ms"] == 2500 and job["read_ahead_ms"] == tuning.native_read_ahead_ms
    assert job["memory_limit_bytes"] == DumpTuning().native_memory_limit_bytes
    plain = connection_job(KafkaConnection("k:1"))
    assert plain["sasl_password"] == "" and plain["security_protocol"] == "PLAINTEXT"


def test_a_partition_without_replay_topic_is_refused(tmp_path: Path) -> None:
    states = [*_states(), PartitionState("src.x", 0, 0, 1, PartitionLineEncoder("src.x", 0, "r"))]
    with pytest.raises(DumpError) as info:
        dump_job(SASL, _plan(tmp_path), states, DumpTuning(), tmp_path)
    assert info.value.reason == "dump_plan_invalid" and "src.x" in info.value.message


def test_the_result_fills_counters_coverage_and_bounds(tmp_path: Path) -> None:
    states = _states()
    done = apply_result(_result(), _plan(tmp_path), states)
    assert [(s.seen, s.kept, s.first, s.last) for s in states] == [
        (9, 6, 11, 19),
        (0, 0, -1, -1),
        (1, 1, 2, 2),
    ]
    assert done.written.records == 7 and done.written.sha256 == "f" * 64
    assert done.written.payload_sha256 == "a" * 64 and done.written.size_bytes == 321
    assert (done.min_timestamp_ms, done.max_timestamp_ms) == (W0 + 5, W0 + 9 * MIN)
    assert (done.skipped, done.streamed, done.spilled_runs) == (2, True, 3)
    coverage = done.coverage.result()
    assert (coverage.session_minutes, coverage.covered_minutes) == (9, 2)
    assert (coverage.first_ts_ms, coverage.last_ts_ms) == (W0 + MIN, W0 + 5 * MIN + 1)


@pytest.mark.parametrize(
    "broken",
    [
        {"partitions": []},
        {"records": None},
        {"coverage": {"covered_minutes": [99], "first_ts_ms": None, "last_ts_ms": None}},
    ],
    ids=["partitions", "records", "minute"],
)
def test_a_malformed_result_is_an_error(tmp_path: Path, broken: dict[str, Any]) -> None:
    with pytest.raises(DumpError) as info:
        apply_result(_result(**broken), _plan(tmp_path), _states())
    assert info.value.reason == "dump_engine_result_invalid"


def test_coverage_accepts_minutes_and_in_session_bounds() -> None:
    acc = CoverageAccumulator(W0, W0 + 3 * MIN)
    acc.add_minutes([2, 0], W0 + 1, W0 + 2 * MIN)
    acc.add_minutes([], None, None)
    result = acc.result()
    assert (result.covered_minutes, result.first_ts_ms, result.last_ts_ms) == (2, W0 + 1, W0 + 2 * MIN)
    with pytest.raises(ValueError):
        acc.add_minutes([3], None, None)


def _fake_engine(tmp_path: Path, events: list[dict[str, Any]], exit_code: int) -> Path:
    """An engine that records its stdin and argv, writes a partial file and prints `events`."""
    script = tmp_path / "fake-engine"
    lines = "\n".join(json.dumps(e) for e in events)
    script.write_text(
        f"""#!{sys.executable}
import json, pathlib, sys
if sys.argv[1:] == ["version"]:
    print({ENGINE_VERSION!r})
    sys.exit(0)
job = json.loads(sys.stdin.read())
pathlib.Path({str(tmp_path / "seen.json")!r}).write_text(json.dumps({{"argv": sys.argv, "job": job}}))
pathlib.Path(job["dump_path"] + ".partial").parent.mkdir(parents=True, exist_ok=True)
pathlib.Path(job["dump_path"] + ".partial").write_bytes(b"x")
pathlib.Path(job["spill_dir"], "run-000000").write_bytes(b"x")
print({lines!r}, flush=True)
sys.exit({exit_code})
"""
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_an_engine_error_becomes_a_dump_error_with_its_reason_and_leaves_nothing(tmp_path: Path) -> None:
    events = [
        {"event": "progress", "phase": "dump", "done": 4, "total": 13},
        {
            "event": "error",
            "reason": "dump_stalled",
            "message": "no progress for 60s: src.bars:0",
        },
    ]
    engine = _fake_engine(tmp_path, events, 1)
    reports: list[Progress] = []
    plan = _plan(tmp_path)
    with pytest.raises(DumpError) as info:
        run_native_dump(engine, SASL, plan, _states(), DumpTuning(), reports.append)
    assert info.value.reason == "dump_stalled"
    assert info.value.message == "no progress for 60s: src.bars:0"
    assert [(p.phase, p.records, p.total) for p in reports] == [("dump", 4, 13)]
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["argv"][1:] == ["dump"] and "s3cret-pw" not in json.dumps(seen["argv"])
    assert seen["job"]["sasl_password"] == "s3cret-pw"
    assert not (plan.dump_path.parent / (plan.dump_path.name + ".partial")).exists()
    assert list(plan.spill_dir.iterdir()) == []


def test_an_engine_result_reports_the_final_progress_of_both_phases(tmp_path: Path) -> None:
    events = [{"event": "progress", "phase": "dump", "done": 3, "total": 13}, _result()]
    engine = _fake_engine(tmp_path, events, 0)
    reports: list[Progress] = []
    done = run_native_dump(engine, SASL, _plan(tmp_path), _states(), DumpTuning(), reports.append)
    assert done.written.records == 7
    finals = [(p.phase, p.records, p.total) for p in reports if p.done]
    assert finals == [("dump", 10, 13), ("merge", 7, 7)]
    assert list(_plan(tmp_path).spill_dir.iterdir()) == []


def test_a_required_native_engine_that_is_missing_is_a_dump_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENGINE_ENV, str(tmp_path / "no-such-engine"))
    request = DumpRequest(
        window_start=datetime.fromtimestamp(W0 / 1000, UTC),
        window_end=datetime.fromtimestamp(W0 / 1000 + 600, UTC),
        dump_path=tmp_path / "d.jsonl.zst",
        marker_path=tmp_path / "m.json",
        source_topics={"trades": "src.trades"},
    )
    with pytest.raises(DumpError) as info:
        dump_source(KafkaConnection("127.0.0.1:1"), request, tuning=DumpTuning(engine="native"))
    assert info.value.reason == "engine_missing"
    # The Python engine never looks for the binary.
    assert passes.dump_engine(DumpTuning(engine="python")) is None
