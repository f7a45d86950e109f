"""The local Kafka is a real broker: topics, historical CreateTime records, offsets for times, headers,
and the `devstack` CLI lifecycle with data kept across a restart."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from torghut_sim.devstack.kafka import KafkaService
from torghut_sim.devstack.service import Service
from torghut_sim.kafka.readiness import create_topics

DAY_MS = 24 * 3600 * 1000
DEVSTACK = Path(sys.executable).with_name("devstack")
Header = tuple[str, bytes | None]


def _kafka(svc: Service) -> KafkaService:
    assert isinstance(svc, KafkaService)
    return svc


def _topic_name(unique_name: str) -> str:
    return unique_name.replace("_", ".")


def _create_topic(bootstrap: str, topic: str, partitions: int = 3) -> None:
    create_topics({"bootstrap.servers": bootstrap}, {topic: partitions})


def _producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "enable.idempotence": True})


def _produce(
    producer: Producer,
    topic: str,
    partition: int,
    timestamp_ms: int,
    value: bytes | None,
    key: bytes | None = None,
    headers: Sequence[Header] | None = None,
) -> None:
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    producer.produce(
        topic,
        value=value,
        key=key,
        partition=partition,
        timestamp=timestamp_ms,
        headers=list(headers) if headers is not None else None,
        on_delivery=on_delivery,
    )
    assert producer.flush(30) == 0
    assert errors == []


@pytest.fixture
def consumer(kafka_service: Service, unique_name: str) -> Iterator[Consumer]:
    """A consumer that reads assigned partitions from the beginning and commits nothing."""
    c = Consumer(
        {
            "bootstrap.servers": _kafka(kafka_service).bootstrap_servers,
            "group.id": f"{unique_name}-reader",
            "enable.auto.commit": False,
        }
    )
    yield c
    c.close()


def _consume(c: Consumer, topic: str, partitions: Sequence[int], expected: int) -> list[Message]:
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    messages: list[Message] = []
    deadline = time.monotonic() + 60
    while len(messages) < expected and time.monotonic() < deadline:
        msg = c.poll(1.0)
        if msg is None:
            continue
        if msg.error() is not None:
            raise KafkaException(msg.error())
        messages.append(msg)
    return messages


def test_topic_has_three_partitions_and_cannot_be_created_twice(
    kafka_service: Service, unique_name: str
) -> None:
    bootstrap = _kafka(kafka_service).bootstrap_servers
    topic = _topic_name(unique_name)
    _create_topic(bootstrap, topic)
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    assert sorted(metadata.topics[topic].partitions) == [0, 1, 2]
    admin = AdminClient({"bootstrap.servers": bootstrap})  # outlives its futures
    again = admin.create_topics([NewTopic(topic, 3, 1)])
    with pytest.raises(KafkaException) as excinfo:
        again[topic].result(timeout=30)
    assert excinfo.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS


# Days before the anchor, per partition in offset order; out of order on purpose (Torghut's topics
# are mostly, not strictly, time-ordered). Partition 0 is written one record per batch with large
# values so the broker's time index has entries; partition 1 is written as one batch.
P0_DAYS = (90, 60, 75, 30, 45, 10)
P1_DAYS = (100, 5, 50, 52)


def test_historical_create_times_round_trip_out_of_order(
    kafka_service: Service, unique_name: str, consumer: Consumer
) -> None:
    bootstrap = _kafka(kafka_service).bootstrap_servers
    topic = _topic_name(unique_name)
    _create_topic(bootstrap, topic)
    anchor = int(time.time() * 1000) // DAY_MS * DAY_MS
    producer = _producer(bootstrap)
    for i, days in enumerate(P0_DAYS):
        _produce(producer, topic, 0, anchor - days * DAY_MS, f"p0-{i}".encode() + b"." * 5000)
    for i, days in enumerate(P1_DAYS):
        producer.produce(topic, value=f"p1-{i}".encode(), partition=1, timestamp=anchor - days * DAY_MS)
    assert producer.flush(30) == 0

    messages = _consume(consumer, topic, [0, 1, 2], len(P0_DAYS) + len(P1_DAYS))
    got = sorted((m.partition(), m.offset(), m.timestamp(), (m.value() or b"")[:4]) for m in messages)
    want = sorted(
        [
            (0, i, (TIMESTAMP_CREATE_TIME, anchor - d * DAY_MS), f"p0-{i}".encode())
            for i, d in enumerate(P0_DAYS)
        ]
        + [
            (1, i, (TIMESTAMP_CREATE_TIME, anchor - d * DAY_MS), f"p1-{i}".encode())
            for i, d in enumerate(P1_DAYS)
        ]
    )
    assert got == want

    # Hand-computed: the first offset whose timestamp is >= the target, not the offset of the
    # smallest timestamp >= target; -1 (the end) when no record is that recent.
    cases = [
        (0, 95, 0),
        (0, 90, 0),
        (0, 89, 1),
        (0, 76, 1),
        (0, 61, 1),
        (0, 60, 1),
        (0, 59, 3),
        (0, 50, 3),
        (0, 31, 3),
        (0, 30, 3),
        (0, 29, 5),
        (0, 11, 5),
        (0, 10, 5),
        (0, 9, -1),
        (1, 101, 0),
        (1, 99, 1),
        (1, 51, 1),
        (1, 5, 1),
        (1, 4, -1),
        (2, 1000, -1),
    ]
    # One request per target: a ListOffsets request names each partition at most once.
    answers = [
        consumer.offsets_for_times([TopicPartition(topic, p, anchor - days * DAY_MS)], timeout=30)[0]
        for p, days, _ in cases
    ]
    assert [(a.partition, a.offset) for a in answers] == [(p, off) for p, _, off in cases]


def test_headers_null_keys_and_null_values_round_trip(
    kafka_service: Service, unique_name: str, consumer: Consumer
) -> None:
    bootstrap = _kafka(kafka_service).bootstrap_servers
    topic = _topic_name(unique_name)
    _create_topic(bootstrap, topic)
    ts = int(time.time() * 1000) - 40 * DAY_MS
    sent: list[tuple[bytes | None, bytes | None, list[Header] | None]] = [
        (None, b'{"symbol":"NVDA"}', [("trace", b"a"), ("trace", b"b"), ("empty", b"")]),
        (b"AMD", None, [("null-header", None)]),
        (None, None, None),
        (b"MU", b"", [("x", b"\x00\xff")]),
    ]
    producer = _producer(bootstrap)
    for i, (key, value, headers) in enumerate(sent):
        _produce(producer, topic, 2, ts + i, value, key=key, headers=headers)

    messages = _consume(consumer, topic, [2], len(sent))
    got = [(m.key(), m.value(), m.headers(), m.timestamp()) for m in messages]
    want = [(k, v, h, (TIMESTAMP_CREATE_TIME, ts + i)) for i, (k, v, h) in enumerate(sent)]
    assert got == want


def test_status_and_endpoints(kafka_service: Service) -> None:
    status = kafka_service.status()
    assert status.running and status.healthy
    assert status.endpoints == {"bootstrap_servers": f"127.0.0.1:{kafka_service.config.ports.kafka}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _devstack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEVSTACK), *args], env=env, capture_output=True, text=True, check=False, timeout=300
    )


@pytest.mark.timeout(600)
def test_cli_up_status_down_and_restart_keeps_records(tmp_path: Path, unique_name: str) -> None:
    # A second broker with its own state and ports, so the shared one keeps serving other tests;
    # it reuses the jars in the build cache.
    port, cport = _free_port(), _free_port()
    env = {
        **os.environ,
        "TORGHUT_DEVSTACK_STATE": str(tmp_path / "state"),
        "TORGHUT_DEVSTACK_KAFKA_PORT": str(port),
        "TORGHUT_DEVSTACK_KAFKA_CONTROLLER_PORT": str(cport),
    }
    bootstrap = f"127.0.0.1:{port}"
    topic = _topic_name(unique_name)
    try:
        up = _devstack(env, "up", "kafka")
        assert up.returncode == 0, up.stderr
        status = _devstack(env, "status", "kafka", "--json")
        assert status.returncode == 0, status.stderr
        [report] = json.loads(status.stdout)
        assert report["healthy"] is True
        assert report["endpoints"] == {"bootstrap_servers": bootstrap}
        assert (tmp_path / "state" / "kafka" / "data" / "meta.properties").exists()

        _create_topic(bootstrap, topic)
        ts = int(time.time() * 1000) - 120 * DAY_MS
        producer = _producer(bootstrap)
        for i in range(5):
            _produce(producer, topic, i % 3, ts + i * 1000, f"r{i}".encode(), key=f"k{i}".encode())

        down = _devstack(env, "down", "kafka")
        assert down.returncode == 0, down.stderr
        assert "kafka: stopped" in down.stderr
        stopped = _devstack(env, "status", "kafka")
        assert stopped.returncode == 1
        assert "stopped" in stopped.stdout

        again = _devstack(env, "up", "kafka")
        assert again.returncode == 0, again.stderr
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{unique_name}-restart"})
        try:
            messages = _consume(c, topic, [0, 1, 2], 5)
        finally:
            c.close()
        got = sorted((m.key(), m.value(), m.timestamp()) for m in messages)
        want = [
            (f"k{i}".encode(), f"r{i}".encode(), (TIMESTAMP_CREATE_TIME, ts + i * 1000)) for i in range(5)
        ]
        assert got == want
    finally:
        _devstack(env, "down", "kafka")
