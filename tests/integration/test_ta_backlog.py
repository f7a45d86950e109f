"""The reference TA's backlog test on a real broker: a partially read partition is backlogged until read."""

from __future__ import annotations

import logging
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, Producer, TopicPartition

from torghut_sim.devstack.kafka import KafkaService
from torghut_sim.devstack.refruntime.settings import LocalEndpoints, TaSettings
from torghut_sim.devstack.refruntime.ta_worker import TaWorker
from torghut_sim.devstack.service import Service
from torghut_sim.kafka.readiness import create_topics

RECORDS = 300


def _read(consumer: Consumer, count: int) -> list[Message]:
    messages: list[Message] = []
    deadline = time.monotonic() + 60
    while len(messages) < count and time.monotonic() < deadline:
        for msg in consumer.consume(count - len(messages), timeout=1.0):
            if msg.error() is not None:
                raise KafkaException(msg.error())
            messages.append(msg)
    assert len(messages) == count
    return messages


def _next(messages: list[Message]) -> int:
    offset = messages[-1].offset()
    assert offset is not None
    return offset + 1


def test_a_partition_read_part_way_is_backlogged_until_read_to_its_end(
    kafka_service: Service, unique_name: str
) -> None:
    assert isinstance(kafka_service, KafkaService)
    bootstrap = kafka_service.bootstrap_servers
    topic = unique_name.replace("_", ".")
    create_topics({"bootstrap.servers": bootstrap}, {topic: 1})
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(RECORDS):
        producer.produce(topic, f"record {i}".encode())
    assert producer.flush(30) == 0

    settings = TaSettings(
        topic, topic, None, None, None, "g", "earliest", "torghut_sim_x", 2000, 15_000, 300, 60
    )
    endpoints = LocalEndpoints(bootstrap, "127.0.0.1", 1, "u", "p", "unused")
    worker = TaWorker(settings, endpoints, None, logging.getLogger("test"))
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"{unique_name}-ta", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        worker.consumer = consumer
        key = (topic, 0)
        first = _read(consumer, 10)
        worker.consumed_to = {key: _next(first)}
        now = time.monotonic()
        worker.engine.partition_seen_at = {key: now - 10}
        # 10 of 300 read: the fetched high watermark says the rest is waiting.
        assert worker.backlog(now) == {key}
        rest = _read(consumer, RECORDS - 10)
        worker.consumed_to = {key: _next(rest)}
        assert worker.backlog(now) == set()
    finally:
        consumer.close()
