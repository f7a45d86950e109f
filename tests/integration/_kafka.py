"""Reading a topic back in the Kafka integration tests: every record with its partition and timestamp."""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.readiness import watermarks

Headers = list[tuple[str, bytes | None]]
Consumed = tuple[int, int, bytes | None, bytes | None, Headers]


def consume_all(kafka: KafkaConnection, topic: str) -> list[Consumed]:
    """Every record of a topic: (partition, timestamp, key, value, headers), by partition in offset order."""
    consumer = Consumer(
        kafka.client_config(**{"group.id": f"t-{uuid.uuid4().hex}", "enable.partition.eof": True})
    )
    try:
        marks = watermarks(kafka.client_config(), [topic])
        tps = [TopicPartition(topic, p, low) for (_, p), (low, high) in sorted(marks.items()) if high > low]
        out: list[Consumed] = []
        waiting = {tp.partition for tp in tps}
        consumer.assign(tps)
        while waiting:
            msg: Any = consumer.poll(10)
            assert msg is not None, f"timed out reading {topic}"
            if msg.error():
                waiting.discard(msg.partition())
                continue
            out.append(
                (msg.partition(), msg.timestamp()[1], msg.key(), msg.value(), list(msg.headers() or []))
            )
        return sorted(out, key=lambda rec: rec[0])  # stable: offset order kept within a partition
    finally:
        consumer.close()
