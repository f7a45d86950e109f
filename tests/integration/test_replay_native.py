"""The native replay against the real broker: the same records, partitions and refusals as the Python one."""

from __future__ import annotations

import gzip
import json
import random
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.integration._kafka import Consumed, consume_all
from torghut_sim.devstack.service import Service
from torghut_sim.dump.io import DumpWriter, payload_sha256
from torghut_sim.dump.record import DumpRecord
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import EngineChoice, find_engine
from torghut_sim.kafka.progress import Progress
from torghut_sim.kafka.readiness import create_topics
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.native import produce_native
from torghut_sim.replay.replayer import ReplayResult, replay_dump
from torghut_sim.replay.request import ReplayRequest, ReplayTuning
from torghut_sim.topics import simulation_topic

T0 = 1_772_807_400_000  # 2026-03-06 14:30 UTC
ROLES = ("trades", "quotes", "bars", "status")
RANDOM_VALUE = b"null key, partition of its own"
ENGINES: tuple[EngineChoice, ...] = ("python", "native")


@pytest.fixture(autouse=True)
def _engine_built() -> None:
    if find_engine() is None:
        pytest.fail("the native engine is not built; run scripts/bootstrap.sh")


@pytest.fixture
def kafka(kafka_service: Service) -> KafkaConnection:
    """A connection to the real broker of the local stack."""
    return KafkaConnection(kafka_service.endpoints()["bootstrap_servers"])


@pytest.fixture
def sources(unique_name: str) -> dict[str, str]:
    """Per-test source topic names (they never exist: targets fall back to default_partitions)."""
    return {role: f"{unique_name}.src.{role}" for role in ROLES}


def _shapes(sources: dict[str, str]) -> list[DumpRecord]:
    """Records of every shape: null key/value, binary, headers (null value, non-ASCII name), partitions."""
    trades, quotes, bars = sources["trades"], sources["quotes"], sources["bars"]
    rng = random.Random(7)
    records = [
        DumpRecord(trades, 0, 0, T0, "", b"NVDA", b'{"p":1}'),
        DumpRecord(trades, 1, 0, T0 + 1, "", None, b"null key"),
        DumpRecord(trades, 2, 0, T0 + 2, "", b"MU", None),
        DumpRecord(trades, 2, 1, T0 + 3, "", b"MU", bytes(range(256))),
        DumpRecord(trades, 0, 1, T0 + 4, "", b"", b"empty key"),
        DumpRecord(trades, 1, 1, T0 + 5, "", b"AMD", b""),
        DumpRecord(
            trades,
            1,
            2,
            T0 + 6,
            "",
            b"AMD",
            b"{}",
            (("trace", b"\x00\x01"), ("empty", None), ("zoné-ß-名", b"\xff"), ("trace", b"again")),
        ),
        # Timestamps going backwards inside a partition must survive as they are.
        DumpRecord(trades, 0, 2, T0 - 500, "", b"NVDA", b'{"late":true}'),
        DumpRecord(quotes, 0, 0, T0 + 7, "", b"WDC", b'{"bp":1}'),
        DumpRecord(bars, 1, 0, T0 + 8, "", b"LITE", b'{"o":1}'),
        # A null key beyond the target's partitions lands on a random partition, as with librdkafka.
        DumpRecord(trades, 4, 3, T0 + 9, "", None, RANDOM_VALUE),
    ]
    # Source partitions 3..5 exist only in the source: keyed ones go where librdkafka's hash puts them.
    for i in range(30):
        key = f"K{i}".encode()
        records.append(DumpRecord(trades, 3 + i % 3, i, T0 + 100 + i, "", key, rng.randbytes(40)))
    return records


def _write(path: Path, lines: list[bytes]) -> Path:
    body = b"".join(line + b"\n" for line in lines)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(body))
    elif path.name.endswith(".zst"):
        with DumpWriter(path) as writer:
            writer.write_lines(lines)
            writer.commit()
    else:
        path.write_bytes(body)
    return path


def _create(kafka: KafkaConnection, partitions: dict[str, int], config: dict[str, str] | None = None) -> None:
    create_topics(kafka.client_config(), partitions, topic_config=config)


def _replay(
    kafka: KafkaConnection,
    dump: Path,
    sources: dict[str, str],
    token: str,
    engine: EngineChoice,
    progress: list[Progress] | None = None,
    **tuning: Any,
) -> ReplayResult:
    request = ReplayRequest(
        dump_path=dump,
        run_token=token,
        marker_path=dump.parent / f"replay-marker-{token}.json",
        source_topics=sources,
        default_partitions=6,
    )
    return replay_dump(
        kafka,
        request,
        tuning=ReplayTuning(engine=engine, **tuning),
        progress=progress.append if progress is not None else None,
    )


def _replayed(kafka: KafkaConnection, token: str, partitions: int = 6) -> dict[str, list[Consumed]]:
    """What a run's targets hold; the randomly partitioned record is checked and moved to partition -1."""
    out = {role: consume_all(kafka, simulation_topic(role, token)) for role in ("trades", "quotes", "bars")}
    for role, consumed in out.items():
        for i, rec in enumerate(consumed):
            if rec[3] == RANDOM_VALUE:
                assert role == "trades" and 0 <= rec[0] < partitions
                consumed[i] = (-1, *rec[1:])
        consumed.sort(key=lambda rec: rec[0])
    return out


def test_native_replay_produces_what_the_python_replay_produces(
    kafka: KafkaConnection, sources: dict[str, str], unique_name: str, tmp_path: Path
) -> None:
    records = _shapes(sources)
    dump = _write(tmp_path / "source-dump.jsonl.zst", [r.to_line() for r in records])
    tokens = {engine: f"{unique_name}_{engine[:2]}" for engine in ENGINES}
    for token in tokens.values():
        # The target of trades has 2 partitions where the source had 6.
        _create(kafka, {simulation_topic("trades", token): 2})
    reports: list[Progress] = []
    results = {
        engine: _replay(kafka, dump, sources, token, engine, reports if engine == "native" else None)
        for engine, token in tokens.items()
    }
    python, native = (_replayed(kafka, tokens[e], partitions=2) for e in ("python", "native"))
    assert native == python
    trades = native["trades"]
    assert len(trades) == len([r for r in records if r.source_topic == sources["trades"]])
    # Source partitions 0 and 1 are kept; 2..5 are hashed like librdkafka (CRC-32 of the key mod 2).
    for rec in records:
        if rec.source_topic != sources["trades"] or not rec.key:
            continue
        expected = rec.source_partition if rec.source_partition < 2 else zlib.crc32(rec.key) % 2
        found = [c for c in trades if c[2] == rec.key and c[3] == rec.value]
        assert [c[0] for c in found] == [expected], rec
    shaped = {(c[2], c[3]): c for c in trades}
    assert shaped[(None, b"null key")][1] == T0 + 1
    assert shaped[(b"", b"empty key")][2] == b""  # an empty key stays empty, not null
    assert shaped[(b"AMD", b"")][3] == b""
    assert shaped[(b"AMD", b"{}")][4] == [
        ("trace", b"\x00\x01"),
        ("empty", None),
        ("zoné-ß-名", b"\xff"),
        ("trace", b"again"),
    ]
    assert shaped[(b"NVDA", b'{"late":true}')][1] == T0 - 500
    digest, count = payload_sha256(dump)
    for result in results.values():
        assert result.marker.dump_sha256 == digest and result.produced == count == len(records)
    assert results["native"].marker.records_by_topic == {
        simulation_topic(role, tokens["native"]): n
        for role, n in zip(ROLES, (len(trades), 1, 1, 0), strict=True)
    }
    assert reports and reports[-1].done and reports[-1].records == len(records)


@pytest.mark.parametrize("name", ["source-dump.jsonl.gz", "source-dump.ndjson"])
def test_native_replay_reads_gzip_and_plain_dumps_in_any_json_layout(
    kafka: KafkaConnection, sources: dict[str, str], unique_name: str, tmp_path: Path, name: str
) -> None:
    records = _shapes(sources)[:11]
    lines = []
    for i, record in enumerate(records):
        obj = record.to_json_obj()
        # Keys reversed, spaces, padding, CRLF and blank lines: still the same records and payload hash.
        text = json.dumps(dict(reversed(obj.items())), ensure_ascii=i % 2 == 1, indent=None)
        lines.append(f"  {text}\t\r".encode() if i % 3 == 0 else text.encode())
        if i % 4 == 0:
            lines.append(b"   ")
    dump = _write(tmp_path / name, lines)
    tokens = {engine: f"{unique_name}_{engine[:2]}" for engine in ENGINES}
    results = {engine: _replay(kafka, dump, sources, token, engine) for engine, token in tokens.items()}
    assert _replayed(kafka, tokens["native"]) == _replayed(kafka, tokens["python"])
    digest, count = payload_sha256(dump)
    assert count == len(records)
    assert results["native"].marker.dump_sha256 == results["python"].marker.dump_sha256 == digest
    assert results["native"].produced == len(records)


@pytest.mark.parametrize("engine", ["python", "native"])
def test_an_invalid_line_is_refused_with_its_number(
    kafka: KafkaConnection, sources: dict[str, str], unique_name: str, tmp_path: Path, engine: EngineChoice
) -> None:
    good = DumpRecord(sources["trades"], 0, 0, T0, "", b"k", b"v").to_line()
    dump = _write(tmp_path / "d.ndjson", [good, b"", good, b'{"source_topic": "x", "oops"}', good])
    with pytest.raises(ReplayError) as info:
        _replay(kafka, dump, sources, unique_name, engine)
    assert info.value.reason == "replay_dump_invalid"
    assert "line 3" in str(info.value)


@pytest.mark.parametrize("engine", ["python", "native"])
def test_a_record_of_another_source_topic_is_refused(
    kafka: KafkaConnection, sources: dict[str, str], unique_name: str, tmp_path: Path, engine: EngineChoice
) -> None:
    dump = _write(tmp_path / "d.ndjson", [DumpRecord("elsewhere", 0, 0, T0, "", b"k", b"v").to_line()])
    with pytest.raises(ReplayError) as info:
        _replay(kafka, dump, sources, unique_name, engine)
    assert info.value.reason == "replay_unknown_topic"
    assert "elsewhere" in str(info.value)


@pytest.mark.parametrize("engine", ["python", "native"])
def test_a_corrupt_dump_is_unreadable(
    kafka: KafkaConnection, sources: dict[str, str], unique_name: str, tmp_path: Path, engine: EngineChoice
) -> None:
    lines = [r.to_line() for r in _shapes(sources)]
    dump = _write(tmp_path / "d.jsonl.gz", lines)
    dump.write_bytes(dump.read_bytes()[: len(dump.read_bytes()) // 2])  # truncated mid-stream
    with pytest.raises(ReplayError) as info:
        _replay(kafka, dump, sources, unique_name, engine)
    assert info.value.reason == "replay_dump_unreadable"


@pytest.mark.parametrize("engine", ["python", "native"])
def test_a_record_the_broker_refuses_fails_the_replay(
    kafka: KafkaConnection, sources: dict[str, str], unique_name: str, tmp_path: Path, engine: EngineChoice
) -> None:
    big = random.Random(3).randbytes(8192)  # incompressible: larger than the topic allows even in lz4
    dump = _write(tmp_path / "d.ndjson", [DumpRecord(sources["trades"], 0, 0, T0, "", b"k", big).to_line()])
    _create(kafka, {simulation_topic("trades", unique_name): 1}, {"max.message.bytes": "2048"})
    with pytest.raises(ReplayError) as info:
        _replay(kafka, dump, sources, unique_name, engine)
    assert info.value.reason == "replay_delivery_failed"
    assert "1 records were not delivered" in str(info.value)
    assert not (tmp_path / f"replay-marker-{unique_name}.json").exists()


def test_the_engine_reports_an_unreachable_cluster(sources: dict[str, str], tmp_path: Path) -> None:
    engine = find_engine()
    assert engine is not None
    dump = _write(tmp_path / "d.ndjson", [DumpRecord(sources["trades"], 0, 0, T0, "", b"k", b"v").to_line()])
    request = ReplayRequest(dump, "run_dead", tmp_path / "m.json", source_topics=sources)
    topic_map = request.topic_map()
    with pytest.raises(ReplayError) as info:
        produce_native(
            engine,
            KafkaConnection("127.0.0.1:1", "SASL_PLAINTEXT", "PLAIN", "bob", "pa55word"),
            request,
            topic_map,
            dict.fromkeys(topic_map.values(), 1),
            ReplayTuning(metadata_timeout_seconds=2),
            None,
        )
    assert info.value.reason == "broker_unreachable"
    assert "pa55word" not in str(info.value)
