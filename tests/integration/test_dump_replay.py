"""Dump and replay against the real local Kafka broker: window edges, shapes, reuse, refusal, round trip."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.integration._kafka import consume_all
from torghut_sim.devstack.service import Service
from torghut_sim.dump.dumper import DumpTuning, dump_source
from torghut_sim.dump.errors import DumpError, DumpHashMismatchError
from torghut_sim.dump.io import iter_records
from torghut_sim.dump.record import DumpRecord
from torghut_sim.dump.request import DumpRequest, DumpResult
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import EngineChoice
from torghut_sim.kafka.progress import Progress
from torghut_sim.kafka.readiness import create_topics, records_held
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.replayer import replay_dump
from torghut_sim.replay.request import ReplayRequest, ReplayTuning

W0 = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
W1 = W0 + timedelta(minutes=10)
W0_MS = int(W0.timestamp() * 1000)
W1_MS = int(W1.timestamp() * 1000)
MIN = 60_000

Headers = list[tuple[str, bytes | None]]
# Every replay test runs on both data paths: the Python reference and the native engine.
REPLAY_ENGINES: tuple[EngineChoice, ...] = ("python", "native")
# Likewise every dump behaviour test; the Python engine's own mechanics (workers, grid, horizon restart
# on tiny batches) are tested on it alone, the native engine's in test_dump_native.py.
DUMP_ENGINES: tuple[EngineChoice, ...] = ("python", "native")


@dataclass(frozen=True)
class Rec:
    """A record to produce: partition, timestamp, key, value, headers."""

    partition: int
    ts: int
    key: bytes | None = b"NVDA"
    value: bytes | None = b'{"symbol":"NVDA","p":1}'
    headers: tuple[tuple[str, bytes | None], ...] = ()


@pytest.fixture
def kafka(kafka_service: Service) -> KafkaConnection:
    """A connection to the real broker of the local stack."""
    return KafkaConnection(kafka_service.endpoints()["bootstrap_servers"])


@pytest.fixture
def topics(unique_name: str) -> dict[str, str]:
    """Per-test source topic names for the four dumped roles."""
    return {role: f"{unique_name}.src.{role}" for role in ("trades", "quotes", "bars", "status")}


def _create(kafka: KafkaConnection, partitions: dict[str, int]) -> None:
    create_topics(kafka.client_config(), partitions)


def _produce(kafka: KafkaConnection, topic: str, records: list[Rec]) -> None:
    producer = Producer(kafka.client_config(**{"enable.idempotence": True, "linger.ms": 0}))
    for rec in records:
        producer.produce(
            topic, rec.value, rec.key, rec.partition, timestamp=rec.ts, headers=list(rec.headers) or None
        )
        producer.flush(10)  # one at a time: offsets follow list order per partition
    assert producer.flush(30) == 0


def _request(tmp_path: Path, topics: dict[str, str], start: datetime = W0, end: datetime = W1) -> DumpRequest:
    return DumpRequest(
        window_start=start,
        window_end=end,
        dump_path=tmp_path / "source-dump.jsonl.zst",
        marker_path=tmp_path / "source-dump.marker.json",
        source_topics=topics,
        run_token="run_x",
    )


def _end_offsets(kafka: KafkaConnection, topic: str) -> list[int]:
    consumer = Consumer(kafka.client_config(**{"group.id": f"t-{uuid.uuid4().hex}"}))
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in sorted(parts)
        ]
    finally:
        consumer.close()


@pytest.fixture
def populated(kafka: KafkaConnection, topics: dict[str, str]) -> Iterator[dict[str, list[Rec]]]:
    """Source topics with edge-case records; returns what was produced per topic."""
    _create(kafka, {topics["trades"]: 3, topics["quotes"]: 1, topics["bars"]: 2, topics["status"]: 1})
    produced = {
        topics["trades"]: [
            # Partition 0: the window edges, 1 ms either side, and out-of-order timestamps.
            Rec(0, W0_MS - 1),
            Rec(0, W0_MS),
            Rec(0, W0_MS + 1),
            Rec(0, W0_MS + 5 * MIN),
            Rec(0, W0_MS + 2 * MIN),
            Rec(0, W1_MS - 1),
            Rec(0, W1_MS),
            Rec(0, W1_MS + 1),
            # Partition 1: a late record from before the window sits between in-window ones.
            Rec(1, W0_MS + 10, b"AMD"),
            Rec(1, W0_MS - 500, b"AMD"),
            Rec(1, W0_MS + 20, b"AMD"),
            # Partition 2: null key, null value, binary value, headers (one with a null value).
            Rec(2, W0_MS + 3 * MIN, None, b"null-key"),
            Rec(2, W0_MS + 3 * MIN, b"MU", None),
            Rec(2, W0_MS + 4 * MIN, b"MU", bytes(range(256))),
            Rec(2, W0_MS + 4 * MIN + 1, b"MU", b"{}", (("trace", b"\x00\x01"), ("empty", None))),
        ],
        topics["quotes"]: [Rec(0, W0_MS + 1 * MIN + i, b"WDC") for i in range(3)],
        topics["bars"]: [Rec(0, W0_MS + 9 * MIN, b"LITE")],  # partition 1 stays empty
        topics["status"]: [],  # an empty topic
    }
    for topic, records in produced.items():
        _produce(kafka, topic, records)
    yield produced


def _in_window(records: list[Rec]) -> list[Rec]:
    return [r for r in records if W0_MS <= r.ts < W1_MS]


def _check_dump(
    result: DumpResult, produced: dict[str, list[Rec]], topics: dict[str, str]
) -> list[DumpRecord]:
    dumped = list(iter_records(result.dump_path))
    trades = topics["trades"]
    # Window edges: start kept, end excluded, 1 ms either side as expected; W1-1 kept even though after W1+...
    kept_trade_ts = sorted(r.source_timestamp_ms for r in dumped if r.source_topic == trades)
    assert kept_trade_ts == sorted(r.ts for r in _in_window(produced[trades]))
    assert W0_MS in kept_trade_ts and W0_MS + 1 in kept_trade_ts and W1_MS - 1 in kept_trade_ts
    assert W0_MS - 1 not in kept_trade_ts and W1_MS not in kept_trade_ts and W1_MS + 1 not in kept_trade_ts
    # Global order by (timestamp, topic, partition, offset).
    keys = [(r.source_timestamp_ms, r.source_topic, r.source_partition, r.source_offset) for r in dumped]
    assert keys == sorted(keys)
    # Shapes survive byte for byte.
    by_value = {r.value: r for r in dumped if r.source_topic == trades and r.source_partition == 2}
    assert by_value[b"null-key"].key is None
    assert by_value[None].key == b"MU"
    assert by_value[bytes(range(256))].key == b"MU"
    assert by_value[b"{}"].headers == (("trace", b"\x00\x01"), ("empty", None))
    assert {r.replay_topic for r in dumped if r.source_topic == trades} == {"torghut.sim.trades.v1.run_x"}
    marker = result.marker
    expected_by_topic = {topic: len(_in_window(recs)) for topic, recs in produced.items()}
    assert marker.records_by_topic == expected_by_topic
    assert marker.records == len(dumped) == sum(expected_by_topic.values())
    assert marker.records_by_partition[f"{trades}:0"] == 5
    assert marker.records_by_partition[f"{topics['bars']}:1"] == 0
    assert marker.offset_ranges[f"{trades}:0"].model_dump() == {"first": 1, "last": 5}
    assert marker.out_of_window_skipped == 1
    # trades: p0 offsets 1..5, p1 0..2, p2 0..3; quotes 3; bars 1; status 0.
    assert marker.expected_records == 5 + 3 + 4 + 3 + 1
    assert set(marker.offset_gaps.values()) == {0}
    assert marker.min_timestamp_ms == W0_MS and marker.max_timestamp_ms == W1_MS - 1
    assert marker.status == "ok"
    # Minutes 0,1,2,3,4,5,9 carry records.
    assert (marker.coverage.session_minutes, marker.coverage.covered_minutes) == (10, 7)
    return dumped


@pytest.mark.parametrize("engine", DUMP_ENGINES)
def test_dump_selects_exactly_the_window_and_keeps_record_shapes(
    kafka: KafkaConnection,
    topics: dict[str, str],
    populated: dict[str, list[Rec]],
    tmp_path: Path,
    engine: EngineChoice,
) -> None:
    reports: list[Progress] = []
    tuning = DumpTuning(engine=engine)
    result = dump_source(kafka, _request(tmp_path, topics), progress=reports.append, tuning=tuning)
    assert not result.reused
    _check_dump(result, populated, topics)
    assert reports and reports[-1].done
    assert [p for p in reports if p.phase == "dump"][-1].records == result.marker.expected_records


@pytest.mark.parametrize(
    "tuning",
    [
        # In process, writing while reading, with a run spilled after every record.
        DumpTuning(
            workers=1, chunk_bytes=1, consume_batch=2, grid_cells=16, merge_group_bytes=300, engine="python"
        ),
        # In process, external sort only.
        DumpTuning(workers=1, order_horizon_ms=0, chunk_bytes=1, consume_batch=2, engine="python"),
        # Worker processes spilling runs that this process merges.
        DumpTuning(workers=3, chunk_bytes=1, consume_batch=2, engine="python"),
    ],
    ids=["streamed", "external", "workers"],
)
def test_dump_spills_and_merges_when_memory_chunk_is_tiny(
    kafka: KafkaConnection,
    topics: dict[str, str],
    populated: dict[str, list[Rec]],
    tmp_path: Path,
    tuning: DumpTuning,
) -> None:
    reports: list[Progress] = []
    result = dump_source(kafka, _request(tmp_path, topics), tuning=tuning, progress=reports.append)
    _check_dump(result, populated, topics)
    assert [p for p in reports if p.phase == "dump"][-1].records == result.marker.expected_records
    # The native engine with its defaults writes the same payload.
    default = dump_source(kafka, _request(tmp_path / "default", topics), tuning=DumpTuning(engine="native"))
    assert default.marker.payload_sha256 == result.marker.payload_sha256
    assert list(tmp_path.glob("**/dump-runs-*")) == []  # spilled runs are removed


def test_a_record_later_than_the_horizon_voids_the_stream_but_not_the_order(
    kafka: KafkaConnection, unique_name: str, tmp_path: Path
) -> None:
    topic = f"{unique_name}.src.late"
    _create(kafka, {topic: 1})
    # 4 minutes behind the latest record of its partition when it arrives.
    stamps = [W0_MS + 5 * MIN, W0_MS + 6 * MIN, W0_MS + 2 * MIN, W0_MS + 7 * MIN]
    _produce(kafka, topic, [Rec(0, ts) for ts in stamps])
    request = DumpRequest(
        window_start=W0,
        window_end=W1,
        dump_path=tmp_path / "source-dump.jsonl.zst",
        marker_path=tmp_path / "source-dump.marker.json",
        source_topics={"trades": topic},
    )
    results = {}
    for horizon in (1, 5 * MIN):
        tuning = DumpTuning(
            workers=1, order_horizon_ms=horizon, consume_batch=1, grid_cells=100, engine="python"
        )
        results[horizon] = dump_source(kafka, request, force=True, tuning=tuning)
    assert not results[1].streamed  # the bet was lost: restarted with the external sort
    assert results[5 * MIN].streamed  # within the horizon: written while reading
    for result in results.values():
        dumped = list(iter_records(result.dump_path))
        assert [r.source_timestamp_ms for r in dumped] == sorted(stamps)
        assert result.marker.records == 4 and result.marker.offset_gaps == {f"{topic}:0": 0}
        assert result.marker.min_timestamp_ms == W0_MS + 2 * MIN
    assert results[1].marker.payload_sha256 == results[5 * MIN].marker.payload_sha256


def test_a_failing_worker_reports_its_error_instead_of_raising(
    kafka: KafkaConnection, topics: dict[str, str], populated: dict[str, list[Rec]], tmp_path: Path
) -> None:
    from multiprocessing import Pipe, Value

    from torghut_sim.dump.worker import WorkerJob, run_worker

    receiver, sender = Pipe(duplex=False)
    job = WorkerJob(
        connection=kafka,
        # librdkafka refuses the property: the worker's consumer cannot be created.
        tuning=DumpTuning(consumer_overrides={"no.such.property": "1"}),
        states=[],
        window_ms=(W0_MS, W1_MS),
        run_dir=tmp_path,
        run_prefix="w0",
        boundaries=[],
    )
    run_worker(job, sender, Value("q", 0))
    result = receiver.recv()
    assert result.error is not None and result.error[1] == "kafka_connection_invalid"
    with pytest.raises(DumpError) as info:
        dump_source(kafka, _request(tmp_path, topics), tuning=job.tuning)
    assert info.value.reason == "kafka_connection_invalid"
    assert not (tmp_path / "source-dump.jsonl.zst").exists()


@pytest.mark.parametrize("engine", DUMP_ENGINES)
def test_empty_window_is_an_empty_day(
    kafka: KafkaConnection,
    topics: dict[str, str],
    populated: dict[str, list[Rec]],
    tmp_path: Path,
    engine: EngineChoice,
) -> None:
    start = W0 - timedelta(hours=5)
    request = _request(tmp_path, topics, start, start + timedelta(hours=1))
    result = dump_source(kafka, request, tuning=DumpTuning(engine=engine))
    assert result.marker.status == "empty_day"
    assert result.marker.records == 0
    assert result.marker.coverage.covered_minutes == 0
    assert list(iter_records(result.dump_path)) == []


@pytest.mark.parametrize("engine", DUMP_ENGINES)
def test_dump_is_reused_and_a_corrupted_dump_is_refused(
    kafka: KafkaConnection,
    topics: dict[str, str],
    populated: dict[str, list[Rec]],
    tmp_path: Path,
    engine: EngineChoice,
) -> None:
    tuning = DumpTuning(engine=engine)
    first = dump_source(kafka, _request(tmp_path, topics), tuning=tuning)
    again = dump_source(kafka, _request(tmp_path, topics), tuning=tuning)
    assert again.reused and again.marker == first.marker
    forced = dump_source(kafka, _request(tmp_path, topics), force=True, tuning=tuning)
    assert not forced.reused and forced.marker.payload_sha256 == first.marker.payload_sha256
    with pytest.raises(DumpError) as window_info:
        dump_source(kafka, _request(tmp_path, topics, W0, W1 + timedelta(minutes=1)))
    assert window_info.value.reason == "dump_window_mismatch"
    data = bytearray(first.dump_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.dump_path.write_bytes(bytes(data))
    with pytest.raises(DumpHashMismatchError) as info:
        dump_source(kafka, _request(tmp_path, topics))
    assert info.value.reason == "dump_hash_mismatch"


@pytest.mark.parametrize("engine", DUMP_ENGINES)
def test_transaction_markers_count_as_offset_gaps(
    kafka: KafkaConnection, topics: dict[str, str], tmp_path: Path, engine: EngineChoice
) -> None:
    _create(kafka, dict.fromkeys(topics.values(), 1))
    producer = Producer(kafka.client_config(**{"transactional.id": f"tx-{uuid.uuid4().hex}"}))
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topics["trades"], b"kept", b"K", 0, timestamp=W0_MS + 1)
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topics["trades"], b"aborted", b"K", 0, timestamp=W0_MS + 2)
    assert producer.flush(30) == 0  # written to the log before the abort, not purged locally
    producer.abort_transaction(30)
    request = _request(tmp_path, topics, W0, W1 + timedelta(days=365))
    result = dump_source(kafka, request, tuning=DumpTuning(engine=engine))
    assert [r.value for r in iter_records(result.dump_path)] == [b"kept"]
    # Offsets 0 kept, 1 commit marker, 2 aborted record, 3 abort marker.
    assert result.marker.expected_records == 4
    assert result.marker.offset_gaps[f"{topics['trades']}:0"] == 3


@pytest.mark.parametrize("engine", REPLAY_ENGINES)
def test_round_trip_replay_is_identical_and_never_replays_twice(
    kafka: KafkaConnection,
    topics: dict[str, str],
    populated: dict[str, list[Rec]],
    tmp_path: Path,
    unique_name: str,
    engine: EngineChoice,
) -> None:
    tuning = ReplayTuning(engine=engine)
    dumped = list(iter_records(dump_source(kafka, _request(tmp_path, topics)).dump_path))
    request = ReplayRequest(
        dump_path=tmp_path / "source-dump.jsonl.zst",
        run_token=unique_name,
        marker_path=tmp_path / "replay-marker.json",
        source_topics=topics,
        default_partitions=2,
    )
    first = replay_dump(kafka, request, tuning=tuning)
    assert not first.skipped and first.produced == len(dumped)
    marker = first.marker
    assert marker.records == len(dumped)
    dump_marker_payload = dump_source(kafka, _request(tmp_path, topics)).marker.payload_sha256
    assert marker.dump_sha256 == dump_marker_payload
    for role, source in topics.items():
        target = f"torghut.sim.{'bars.1m' if role == 'bars' else role}.v1.{unique_name}"
        assert marker.topic_map[source] == target
        expected = [
            (r.source_partition, r.source_timestamp_ms, r.key, r.value, list(r.headers))
            for r in dumped
            if r.source_topic == source
        ]
        got = consume_all(kafka, target)
        assert sorted(got, key=repr) == sorted(expected, key=repr), role
        assert marker.records_by_topic[target] == len(expected)
    ends = {t: _end_offsets(kafka, t) for t in marker.topic_map.values()}
    # Source partition counts are kept: trades 3, quotes 1, bars 2, status 1.
    assert [len(ends[marker.topic_map[topics[r]]]) for r in ("trades", "quotes", "bars", "status")] == [
        3,
        1,
        2,
        1,
    ]

    again = replay_dump(kafka, request, tuning=tuning)
    assert again.skipped and again.produced == 0 and again.marker == marker
    assert {t: _end_offsets(kafka, t) for t in marker.topic_map.values()} == ends

    # Without its marker the topics are emptied and replayed again, never added to; forced, the same.
    request.marker_path.unlink()
    for rerun in (
        replay_dump(kafka, request, tuning=tuning),
        replay_dump(kafka, request, force=True, tuning=tuning),
    ):
        assert not rerun.skipped and rerun.produced == len(dumped)
        assert rerun.records_deleted == marker.records_by_topic
        assert records_held(kafka.client_config(), marker.topic_map.values()) == marker.records_by_topic
        assert rerun.marker.records_by_topic == marker.records_by_topic
    for source, target in marker.topic_map.items():
        expected = [(r.source_partition, r.key, r.value) for r in dumped if r.source_topic == source]
        got = [(partition, key, value) for partition, _ts, key, value, _h in consume_all(kafka, target)]
        assert sorted(got, key=repr) == sorted(expected, key=repr)


@pytest.mark.parametrize("engine", REPLAY_ENGINES)
def test_replay_refuses_a_marker_of_another_dump(
    kafka: KafkaConnection,
    topics: dict[str, str],
    populated: dict[str, list[Rec]],
    tmp_path: Path,
    unique_name: str,
    engine: EngineChoice,
) -> None:
    tuning = ReplayTuning(engine=engine)
    dump_source(kafka, _request(tmp_path, topics))
    request = ReplayRequest(
        dump_path=tmp_path / "source-dump.jsonl.zst",
        run_token=unique_name,
        marker_path=tmp_path / "replay-marker.json",
        source_topics=topics,
    )
    replay_dump(kafka, request, tuning=tuning)
    other = tmp_path / "other.ndjson"
    other.write_bytes(next(iter_records(request.dump_path)).to_line() + b"\n")
    with pytest.raises(ReplayError) as info:
        replay_dump(
            kafka, ReplayRequest(other, unique_name, request.marker_path, source_topics=topics), tuning=tuning
        )
    assert info.value.reason == "replay_marker_mismatch"


@pytest.mark.parametrize("engine", REPLAY_ENGINES)
def test_replay_reports_an_unreachable_broker(
    topics: dict[str, str], tmp_path: Path, engine: EngineChoice
) -> None:
    dump = tmp_path / "d.ndjson"
    dump.write_bytes(DumpRecord(topics["trades"], 0, 0, W0_MS, "", b"k", b"v").to_line() + b"\n")
    dead = KafkaConnection("127.0.0.1:1")
    with pytest.raises(ReplayError) as info:
        replay_dump(
            dead,
            ReplayRequest(dump, "run_dead", tmp_path / "m.json", source_topics=topics),
            tuning=ReplayTuning(metadata_timeout_seconds=2, engine=engine),
        )
    assert info.value.reason == "broker_unreachable"


def test_cli_dump_then_replay(
    kafka: KafkaConnection,
    topics: dict[str, str],
    populated: dict[str, list[Rec]],
    tmp_path: Path,
    unique_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from torghut_sim.cli import main

    overrides = [arg for role, topic in topics.items() for arg in ("--source-topic", f"{role}={topic}")]
    common = ["--bootstrap-servers", kafka.bootstrap_servers]
    assert (
        main(
            [
                "dump",
                *common,
                "--start",
                W0.isoformat(),
                "--end",
                W1.isoformat(),
                "--out",
                str(tmp_path),
                *overrides,
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    expected = sum(len(_in_window(records)) for records in populated.values())
    assert summary["status"] == "ok" and summary["records"] == expected == 15
    dump = tmp_path / "source-dump.jsonl.zst"
    assert main(["replay", *common, "--run-token", unique_name, "--dump", str(dump), *overrides]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["produced"] == expected and replayed["dump_sha256"] == summary["payload_sha256"]
    assert (tmp_path / "replay-marker.json").exists()
    assert main(["replay", *common, "--run-token", unique_name, "--dump", str(dump), *overrides]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] is True
    # A naive instant is refused by the parser.
    with pytest.raises(SystemExit):
        main(
            [
                "dump",
                *common,
                "--start",
                "2026-03-06T14:30:00",
                "--end",
                W1.isoformat(),
                "--out",
                str(tmp_path),
            ]
        )
