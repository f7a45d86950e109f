"""Which offsets of which source partitions a dump reads: the window's start and end per partition."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, TopicPartition

from torghut_sim.dump.consume import (
    DumpTuning,
    PartitionState,
    dump_consumer_config,
)
from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.merge import (
    partition_prefix,
)
from torghut_sim.dump.record import PartitionLineEncoder
from torghut_sim.dump.request import DumpRequest
from torghut_sim.kafka.connection import KafkaConnection


def plan_partitions(
    consumer: Consumer, request: DumpRequest, start_ms: int, end_ms: int, timeout: float
) -> list[PartitionState]:
    """Start and end offsets of every partition of every source topic."""
    topic_names = sorted(request.source_topics.values())
    rank = {topic: index for index, topic in enumerate(topic_names)}
    role_of = {topic: role for role, topic in request.source_topics.items()}
    tps: list[TopicPartition] = []
    for topic in topic_names:
        metadata = consumer.list_topics(topic, timeout=timeout)
        info = metadata.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            detail = info.error if info is not None else "absent"
            raise DumpError(f"source topic {topic} is not readable: {detail}", reason="source_topic_missing")
        tps.extend(TopicPartition(topic, p) for p in sorted(info.partitions))
    starts = consumer.offsets_for_times(
        [TopicPartition(tp.topic, tp.partition, start_ms) for tp in tps], timeout
    )
    ends = consumer.offsets_for_times([TopicPartition(tp.topic, tp.partition, end_ms) for tp in tps], timeout)
    states: list[PartitionState] = []
    for tp, start_tp, end_tp in zip(tps, starts, ends, strict=True):
        for result in (start_tp, end_tp):
            if result.error is not None:
                raise DumpError(
                    f"offsets_for_times {tp.topic}:{tp.partition}: {result.error}",
                    reason="kafka_offsets_failed",
                )
        low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
        # -1 means no record at or after the time: the window runs to the end of the partition.
        start = start_tp.offset if start_tp.offset >= 0 else high
        end = min(end_tp.offset if end_tp.offset >= 0 else high, high)
        start = max(start, low)
        end = max(end, start)
        role = role_of[tp.topic]
        encoder = PartitionLineEncoder(
            tp.topic, tp.partition, request.replay_topic(role), partition_prefix(rank[tp.topic], tp.partition)
        )
        states.append(PartitionState(tp.topic, tp.partition, start, end, encoder))
    return states


def dump_consumer(connection: KafkaConnection, tuning: DumpTuning) -> Consumer:
    """A group-less consumer for the dump; a bad connection is a `kafka_connection_invalid` refusal."""
    try:
        return Consumer(dump_consumer_config(connection, tuning))
    except KafkaException as exc:
        raise DumpError(f"cannot create a consumer: {exc}", reason="kafka_connection_invalid") from None


def planned_partitions(
    consumer: Consumer,
    connection: KafkaConnection,
    request: DumpRequest,
    window_ms: tuple[int, int],
    timeout: float,
) -> list[PartitionState]:
    """`plan_partitions`, an unanswered query reported as an unreachable broker."""
    try:
        return plan_partitions(consumer, request, window_ms[0], window_ms[1], timeout)
    except KafkaException as exc:
        raise DumpError(
            f"Kafka at {connection.describe()} did not answer: {exc}", reason="broker_unreachable"
        ) from None
