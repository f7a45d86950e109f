"""Reading a partition's watermarks while a just-created topic may still be without a leader."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

# What a broker answers for a partition it has not loaded yet, right after the topic was created.
LEADERLESS_CODES = frozenset(
    {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.LEADER_NOT_AVAILABLE}
)


def watermarks(consumer: Consumer, tp: TopicPartition, timeout: float) -> tuple[int, int]:
    """Low and high watermark, riding out the brief leaderless moments after a topic is created."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
        except KafkaException as exc:
            transient = exc.args[0].retriable() or exc.args[0].code() in LEADERLESS_CODES
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        return int(low), int(high)
