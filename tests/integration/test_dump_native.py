"""The native dump engine on the real local broker: byte-identical to the Python engine, spills, errors."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.integration.test_dump_replay import W0, W0_MS, W1, W1_MS, Rec, _create, _produce
from torghut_sim.devstack.service import Service
from torghut_sim.dump import passes
from torghut_sim.dump.consume import PartitionState
from torghut_sim.dump.dumper import DumpTuning, dump_source, verify_dump
from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.io import open_decompressed
from torghut_sim.dump.native import NativeDump, NativeDumpPlan, run_native_dump
from torghut_sim.dump.record import PartitionLineEncoder
from torghut_sim.dump.request import DumpRequest, DumpResult
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import use_native
from torghut_sim.kafka.progress import Progress

MIN = 60_000
# Header names that exercise every escape of Python's json.dumps (ensure_ascii), DEL and beyond the BMP.
ODD_NAMES = ("trace-é", 'q"b\\s\n\r\t\b\f\x01\x1f\x7f', "emoji-😀", "日本")


@pytest.fixture
def kafka(kafka_service: Service) -> KafkaConnection:
    """A connection to the real broker of the local stack."""
    return KafkaConnection(kafka_service.endpoints()["bootstrap_servers"])


@pytest.fixture
def engine() -> Path:
    """The built native engine; these tests insist on it."""
    path = use_native("native")
    assert path is not None
    return path


@pytest.fixture
def rich_topics(kafka: KafkaConnection, unique_name: str) -> dict[str, str]:
    """Source topics with every record shape, boundaries, disorder, an empty topic and transactions."""
    topics = {role: f"{unique_name}.src.{role}" for role in ("trades", "quotes", "bars", "status")}
    _create(kafka, {topics["trades"]: 3, topics["quotes"]: 2, topics["bars"]: 1, topics["status"]: 1})
    _produce(
        kafka,
        topics["trades"],
        [
            Rec(0, W0_MS - 1),
            Rec(0, W0_MS),
            Rec(0, W0_MS + 1),
            Rec(0, W0_MS + 7 * MIN),
            Rec(0, W0_MS + 2 * MIN),  # out of order
            Rec(0, W1_MS - 1),
            Rec(0, W1_MS),
            Rec(0, W1_MS + 1),
            Rec(1, W0_MS + 10, b"AMD"),
            Rec(1, W0_MS - 500, b"AMD"),
            Rec(1, W0_MS + 10, b"AMD", b"same ms as offset 0"),
            Rec(2, W0_MS + 3 * MIN, None, b"null-key"),
            Rec(2, W0_MS + 3 * MIN, b"MU", None),
            Rec(2, W0_MS + 3 * MIN, b"", b""),
            Rec(2, W0_MS + 4 * MIN, b"MU", bytes(range(256))),
            Rec(2, W0_MS + 4 * MIN + 1, b"MU", b"{}", (("trace", b"\x00\x01"), ("empty", None), ("", b""))),
            Rec(2, W0_MS + 5 * MIN, b"\xff\xfe", b"\x00", tuple((name, name.encode()) for name in ODD_NAMES)),
        ],
    )
    # Same timestamps across topics and partitions: the tie-break is topic name, partition, offset.
    _produce(kafka, topics["quotes"], [Rec(p, W0_MS + 10, b"WDC") for p in (1, 0, 1)])
    # A committed and an aborted transaction; the partition ends with the abort marker.
    producer = Producer(kafka.client_config(**{"transactional.id": f"tx-{uuid.uuid4().hex}"}))
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topics["bars"], b"committed", b"LITE", 0, timestamp=W0_MS + 9 * MIN)
    producer.produce(topics["bars"], b"committed-late", b"LITE", 0, timestamp=W0_MS + 1)
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topics["bars"], b"aborted", b"LITE", 0, timestamp=W0_MS + 3)
    assert producer.flush(30) == 0
    producer.abort_transaction(30)
    return topics


def _request(tmp_path: Path, topics: dict[str, str], name: str, end: datetime = W1) -> DumpRequest:
    return DumpRequest(
        window_start=W0,
        window_end=end,
        dump_path=tmp_path / name / "source-dump.jsonl.zst",
        marker_path=tmp_path / name / "source-dump.marker.json",
        source_topics=topics,
        run_token="run_x",
    )


def _payload(result: DumpResult) -> bytes:
    with open_decompressed(result.dump_path) as stream:
        return stream.read()


def _comparable(result: DumpResult) -> dict[str, object]:
    return result.marker.model_dump(exclude={"sha256", "created_at"})


@pytest.mark.parametrize(
    "native",
    [
        DumpTuning(engine="native"),
        # The external sort, a run spilled after every poll.
        DumpTuning(engine="native", order_horizon_ms=0, native_chunk_bytes=1),
        # Written while reading, with spilled runs merged into what is written.
        DumpTuning(engine="native", order_horizon_ms=1, native_chunk_bytes=1),
    ],
    ids=["streamed", "external-spilled", "streamed-spilled"],
)
def test_native_dump_is_identical_to_the_python_dump(
    kafka: KafkaConnection, rich_topics: dict[str, str], tmp_path: Path, native: DumpTuning
) -> None:
    python = dump_source(kafka, _request(tmp_path, rich_topics, "python"), tuning=DumpTuning(engine="python"))
    reports: list[Progress] = []
    result = dump_source(
        kafka, _request(tmp_path, rich_topics, "native"), tuning=native, progress=reports.append
    )
    assert _payload(result) == _payload(python)
    assert _comparable(result) == _comparable(python)
    # The fixture is what it claims to be: disorder, every shape and escape kept.
    marker = result.marker
    assert marker.records == 18 and marker.out_of_window_skipped == 1
    assert marker.records_by_topic[rich_topics["status"]] == 0
    assert b"\\u007f" in _payload(result) and b"\\ud83d\\ude00" in _payload(result)
    assert verify_dump(result.dump_path, result.marker_path) == result.marker
    assert reports[-1].done
    assert [p for p in reports if p.phase == "dump"][-1].records == marker.expected_records
    assert list(tmp_path.glob("**/dump-runs-*")) == [] and list(tmp_path.glob("**/*.partial")) == []


def test_native_dump_reaches_an_end_offset_behind_transaction_markers(
    kafka: KafkaConnection, rich_topics: dict[str, str], tmp_path: Path
) -> None:
    # Markers are stamped with the wall clock: a window reaching a year ahead holds them.
    end = W1 + timedelta(days=365)
    python = dump_source(kafka, _request(tmp_path, rich_topics, "p", end), tuning=DumpTuning(engine="python"))
    native = dump_source(kafka, _request(tmp_path, rich_topics, "n", end), tuning=DumpTuning(engine="native"))
    assert _payload(native) == _payload(python)
    assert _comparable(native) == _comparable(python)
    bars = f"{rich_topics['bars']}:0"
    # Offsets 0-1 committed, 2 commit marker, 3 aborted record, 4 abort marker (the partition's last).
    assert native.marker.offset_gaps[bars] == 3 and native.marker.records_by_partition[bars] == 2
    assert b"aborted" not in _payload(native)


def test_native_dump_spills_sorted_runs_under_a_tiny_memory_budget(
    kafka: KafkaConnection, rich_topics: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[NativeDump] = []

    def spy(*args: object, **kwargs: object) -> NativeDump:
        done = run_native_dump(*args, **kwargs)  # type: ignore[arg-type]
        runs.append(done)
        return done

    monkeypatch.setattr(passes, "run_native_dump", spy)
    spill = tmp_path / "spill"
    request = replace(_request(tmp_path, rich_topics, "tiny"), spill_dir=spill)
    tiny_budget = DumpTuning(engine="native", order_horizon_ms=0, native_chunk_bytes=1)
    tiny = dump_source(kafka, request, tuning=tiny_budget)
    roomy = dump_source(kafka, _request(tmp_path, rich_topics, "roomy"), tuning=DumpTuning(engine="native"))
    assert [r.spilled_runs > 0 for r in runs] == [True, False]
    assert [r.streamed for r in runs] == [False, True]
    assert _payload(tiny) == _payload(roomy)
    assert tiny.marker.payload_sha256 == roomy.marker.payload_sha256
    assert list(spill.iterdir()) == []  # the runs and their directories are removed


def test_native_dump_restarts_unstreamed_when_a_record_is_later_than_the_horizon(
    kafka: KafkaConnection, unique_name: str, tmp_path: Path
) -> None:
    topic = f"{unique_name}.src.late"
    _create(kafka, {topic: 1})
    # ~24 MB of incompressible values: more than one fetch (8 MB per partition), so part of the file is
    # written before the last record, 5 minutes older than the rest, arrives.
    stamps = [W0_MS + 5 * MIN + i for i in range(1500)] + [W0_MS + 2 * MIN]
    producer = Producer(kafka.client_config(**{"enable.idempotence": True, "linger.ms": 5}))
    for ts in stamps:
        producer.produce(topic, os.urandom(16_000), b"K", 0, timestamp=ts)
    assert producer.flush(30) == 0
    request = DumpRequest(
        window_start=W0,
        window_end=W1,
        dump_path=tmp_path / "source-dump.jsonl.zst",
        marker_path=tmp_path / "source-dump.marker.json",
        source_topics={"trades": topic},
    )
    # A 1 ms horizon and a tiny budget: whatever one poll has passed is written at once.
    eager = DumpTuning(engine="native", order_horizon_ms=1, native_chunk_bytes=8)
    late = dump_source(kafka, request, tuning=eager)
    python_request = replace(request, dump_path=tmp_path / "p.jsonl.zst", marker_path=tmp_path / "p.json")
    python = dump_source(kafka, python_request, tuning=DumpTuning(engine="python"))
    assert not late.streamed
    assert _payload(late) == _payload(python)
    assert late.marker.min_timestamp_ms == W0_MS + 2 * MIN and late.marker.records == len(stamps)


def _state(topic: str, start: int, end: int) -> PartitionState:
    return PartitionState(topic, 0, start, end, PartitionLineEncoder(topic, 0, "replay"))


def test_native_dump_reports_an_unreachable_broker(engine: Path, tmp_path: Path) -> None:
    plan = NativeDumpPlan(
        dump_path=tmp_path / "d.jsonl.zst",
        spill_dir=tmp_path,
        window_ms=(W0_MS, W1_MS),
        session_ms=(W0_MS, W1_MS),
        replay_topics={"t": "replay"},
    )
    dead = KafkaConnection("127.0.0.1:1")
    with pytest.raises(DumpError) as info:
        run_native_dump(engine, dead, plan, [_state("t", 0, 5)], DumpTuning(metadata_timeout_seconds=2))
    assert info.value.reason == "broker_unreachable"
    assert "127.0.0.1:1" in info.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_native_dump_stalls_when_the_planned_end_never_arrives(
    engine: Path, kafka: KafkaConnection, unique_name: str, tmp_path: Path
) -> None:
    topic = f"{unique_name}.src.stall"
    _create(kafka, {topic: 1})
    _produce(kafka, topic, [Rec(0, W0_MS + 1)])
    plan = NativeDumpPlan(
        dump_path=tmp_path / "d.jsonl.zst",
        spill_dir=tmp_path,
        window_ms=(W0_MS, W1_MS),
        session_ms=(W0_MS, W1_MS),
        replay_topics={topic: "replay"},
    )
    with pytest.raises(DumpError) as info:
        # Offset 1..4 do not exist: the read can never reach its end offset.
        run_native_dump(engine, kafka, plan, [_state(topic, 0, 5)], DumpTuning(stall_timeout_seconds=2))
    assert info.value.reason == "dump_stalled"
    assert f"{topic}:0" in info.value.message
    assert list(tmp_path.iterdir()) == []
