"""Reruns of a replay end exact, on both data paths: a marker is trusted only while its topics hold what it
says (cleanup dropped them, they were emptied), and an interrupted replay or a forced one never adds to
what is already there."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from tests.integration._kafka import consume_all
from torghut_sim.devstack.service import Service
from torghut_sim.dump.io import DumpWriter
from torghut_sim.dump.record import DumpRecord
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import EngineChoice
from torghut_sim.kafka.readiness import create_topics, records_held
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.replayer import replay_dump, reset_untrusted_targets
from torghut_sim.replay.request import ReplayRequest, ReplayTuning
from torghut_sim.stores.kafka_admin import delete_records, delete_topics
from torghut_sim.topics import simulation_topic

T0 = 1_772_807_400_000  # 2026-03-06 14:30 UTC
ENGINES: tuple[EngineChoice, ...] = ("python", "native")
ROLES = ("trades", "quotes", "bars", "status")
# Incompressible and above the 64 KB limit the "interrupted" test sets on the trades target first.
BIG = random.Random(3).randbytes(200_000)
LIMIT = "65536"


@pytest.fixture
def kafka(kafka_service: Service) -> KafkaConnection:
    """A connection to the real broker of the local stack."""
    return KafkaConnection(kafka_service.endpoints()["bootstrap_servers"])


def _dump(tmp_path: Path, token: str, big: bool = False) -> tuple[ReplayRequest, Counter[str]]:
    """A dump of 300 trades (3 partitions), 120 quotes and 30 bars, with `big` one more large trade last
    in its partition; its request and records per target."""
    sources = {role: f"{token}.src.{role}" for role in ROLES}
    records: list[DumpRecord] = []
    for i in range(300):
        records.append(DumpRecord(sources["trades"], i % 3, i // 3, T0 + i, "", b"NVDA", f"t{i}".encode()))
    if big:
        records.append(DumpRecord(sources["trades"], 2, 100, T0 + 1000, "", b"NVDA", BIG))
    records += [DumpRecord(sources["quotes"], 0, i, T0 + i, "", b"AMD", f"q{i}".encode()) for i in range(120)]
    records += [DumpRecord(sources["bars"], 1, i, T0 + i, "", b"MU", f"b{i}".encode()) for i in range(30)]
    records.sort(key=lambda r: (r.source_timestamp_ms, r.source_topic))
    dump = tmp_path / "source-dump.jsonl.zst"
    with DumpWriter(dump) as writer:
        writer.write_lines(r.to_line() for r in records)
        writer.commit()
    request = ReplayRequest(dump, token, tmp_path / "replay-marker.json", source_topics=sources)
    topic_map = request.topic_map()
    expected = Counter(topic_map[r.source_topic] for r in records)
    return request, Counter({target: expected[target] for target in topic_map.values()})


def _raise_limit(config: dict[str, Any], topic: str) -> None:
    """Let the topic take the large record (as a fixed broker would, after the interruption)."""
    admin = AdminClient(config)
    limit = ConfigEntry("max.message.bytes", "1048576", incremental_operation=AlterConfigOpType.SET)
    for future in admin.incremental_alter_configs(
        [ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[limit])]
    ).values():
        future.result(30)


def _assert_exact(kafka: KafkaConnection, token: str, expected: Counter[str]) -> None:
    """The targets hold the expected counts, every record once."""
    targets = [simulation_topic(role, token) for role in ROLES]
    assert records_held(kafka.client_config(), targets) == dict(expected)
    for target in targets:
        values = [value for _p, _ts, _key, value, _h in consume_all(kafka, target)]
        assert len(values) == len(set(values)) == expected[target], target


@pytest.mark.parametrize("engine", ENGINES)
def test_a_marker_is_trusted_only_while_its_topics_hold_what_it_says(
    kafka: KafkaConnection, unique_name: str, tmp_path: Path, engine: EngineChoice
) -> None:
    tuning = ReplayTuning(engine=engine)
    request, expected = _dump(tmp_path, unique_name)
    first = replay_dump(kafka, request, tuning=tuning)
    assert first.produced == 450 and first.marker.records_by_topic == dict(expected)
    assert replay_dump(kafka, request, tuning=tuning).skipped  # the topics hold what the marker says

    # As `torghut-sim cleanup --execute` does: the run's topics are dropped, the marker stays.
    delete_topics(kafka.client_config(), sorted(expected))
    rerun = replay_dump(kafka, request, tuning=tuning)
    assert not rerun.skipped and rerun.produced == 450
    assert rerun.distrusted_marker is not None and "no longer exist" in rerun.distrusted_marker
    _assert_exact(kafka, unique_name, expected)

    # Emptied topics (records deleted, topics kept) are not trusted either.
    delete_records(kafka.client_config(), sorted(expected))
    emptied = replay_dump(kafka, request, tuning=tuning)
    assert not emptied.skipped and emptied.produced == 450
    assert emptied.distrusted_marker is not None and "holds 0 records" in emptied.distrusted_marker
    _assert_exact(kafka, unique_name, expected)
    assert replay_dump(kafka, request, tuning=tuning).skipped


@pytest.mark.parametrize("engine", ENGINES)
def test_an_interrupted_replay_then_a_plain_or_forced_rerun_ends_exact(
    kafka: KafkaConnection, unique_name: str, tmp_path: Path, engine: EngineChoice
) -> None:
    tuning = ReplayTuning(engine=engine)
    request, expected = _dump(tmp_path, unique_name, big=True)
    total = sum(expected.values())
    trades = simulation_topic("trades", unique_name)
    config = kafka.client_config()
    # The broker refuses one record mid-replay: the replay fails after delivering all the others.
    create_topics(config, {trades: 3}, topic_config={"max.message.bytes": LIMIT})
    with pytest.raises(ReplayError) as failed:
        replay_dump(kafka, request, tuning=tuning)
    assert failed.value.reason == "replay_delivery_failed"
    assert not request.marker_path.exists()
    partial = records_held(config, [trades])[trades]
    assert 0 < partial < expected[trades]

    _raise_limit(config, trades)

    plain = replay_dump(kafka, request, tuning=tuning)
    assert not plain.skipped and plain.produced == total == 451
    assert plain.records_deleted[trades] == partial
    assert plain.marker.records_by_topic == dict(expected)
    _assert_exact(kafka, unique_name, expected)

    forced = replay_dump(kafka, request, force=True, tuning=tuning)
    assert forced.produced == total and forced.records_deleted == dict(expected)
    _assert_exact(kafka, unique_name, expected)
    assert replay_dump(kafka, request, tuning=tuning).skipped


def test_a_run_empties_an_untrusted_replays_topics_before_its_consumers_subscribe(
    kafka: KafkaConnection, unique_name: str, tmp_path: Path
) -> None:
    tuning = ReplayTuning(engine="python")
    request, expected = _dump(tmp_path, unique_name, big=True)
    trades = simulation_topic("trades", unique_name)
    config = kafka.client_config()
    create_topics(config, {trades: 3}, topic_config={"max.message.bytes": LIMIT})
    with pytest.raises(ReplayError):
        replay_dump(kafka, request, tuning=tuning)
    partial = records_held(config, [trades])[trades]
    assert partial > 0

    # What the run's provisioning does before TA and the runtime subscribe: the leftovers go now.
    reset = reset_untrusted_targets(kafka, request, tuning=tuning)
    assert reset["records_deleted"][trades] == partial and reset["distrusted_marker"] is None
    assert set(records_held(config, sorted(expected)).values()) == {0}

    _raise_limit(config, trades)
    replay_dump(kafka, request, tuning=tuning)
    # A trusted marker: the replay will skip, so nothing is touched.
    assert reset_untrusted_targets(kafka, request, tuning=tuning) == {
        "distrusted_marker": None,
        "records_deleted": {},
    }
    _assert_exact(kafka, unique_name, expected)
    # Dropped by cleanup: the marker is distrusted, and says why.
    delete_topics(config, sorted(expected))
    create_topics(config, dict.fromkeys(expected, 3))
    reset = reset_untrusted_targets(kafka, request, tuning=tuning)
    assert "holds 0 records" in reset["distrusted_marker"] and not request.marker_path.exists()
