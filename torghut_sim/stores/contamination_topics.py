"""Production topics for the contamination check: end offsets, and a scan of new records for run markers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from torghut_sim.kafka.connection import quiet
from torghut_sim.stores.contamination_run import RunIdentity
from torghut_sim.stores.errors import StoreError

# --- Kafka --------------------------------------------------------------------------------------------


def scan_consumer(config: Mapping[str, str], run: RunIdentity) -> Any:
    """A consumer in a throwaway group for reading production topics without a trace."""
    settings = {
        **config,
        # A throwaway group that never commits: the scan leaves no trace on production groups.
        "group.id": f"torghut-sim-contamination-{run.run_token}-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
    }
    return Consumer(quiet(settings))


def kafka_end_offsets(
    consumer: Any, topics: Sequence[str], timeout: float = 10.0
) -> dict[str, dict[str, int]]:
    """High watermarks per partition of each existing topic."""
    metadata = consumer.list_topics(timeout=timeout)
    out: dict[str, dict[str, int]] = {}
    for topic in topics:
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            continue
        out[topic] = {}
        for partition in sorted(info.partitions):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            out[topic][str(partition)] = int(high)
    return out


def _record_hits(message: Any, markers: Sequence[bytes]) -> list[str]:
    where: list[str] = []
    for name, blob in (("key", message.key()), ("value", message.value())):
        if blob and any(m in blob for m in markers):
            where.append(name)
    for header, value in message.headers() or []:
        text = value if isinstance(value, bytes) else str(value or "").encode()
        if any(m in text or m in header.encode() for m in markers):
            where.append(f"header:{header}")
    return where


def _scan_ranges(
    since: Mapping[str, Mapping[str, int]], until: Mapping[str, Mapping[str, int]], limit_per_partition: int
) -> tuple[dict[tuple[str, int], tuple[int, int]], list[str]]:
    """(start, stop) per partition between two offset snapshots, capped; and the partitions capped."""
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    truncated: list[str] = []
    for topic, partitions in until.items():
        for partition, high in partitions.items():
            start = int(since.get(topic, {}).get(partition, 0))
            if high <= start:
                continue
            end = min(high, start + limit_per_partition)
            if end < high:
                truncated.append(f"{topic}[{partition}]")
            ranges[(topic, int(partition))] = (start, end)
    return ranges, truncated


def _scan_message(message: Any, pending: dict[tuple[str, int], int]) -> bool:
    """Whether a polled message is a record to scan; ends (EOF, stop offset) drop its partition."""
    key = (message.topic(), message.partition())
    error = message.error()
    if error is not None:
        if error.code() == KafkaError._PARTITION_EOF:
            pending.pop(key, None)
            return False
        raise StoreError(f"scanning {key[0]}[{key[1]}]: {error}")
    if key not in pending:
        return False
    if message.offset() >= pending[key]:
        pending.pop(key)
        return False
    return True


def kafka_scan(
    consumer: Any,
    since: Mapping[str, Mapping[str, int]],
    until: Mapping[str, Mapping[str, int]],
    run: RunIdentity,
    limit_per_partition: int,
    timeout_seconds: float,
) -> dict[str, Any]:
    """Scan records appended between two offset snapshots for the run's markers."""
    markers = [m.encode() for m in run.markers]
    ranges, truncated = _scan_ranges(since, until, limit_per_partition)
    hits: list[dict[str, Any]] = []
    scanned = 0
    if ranges:
        consumer.assign(
            [TopicPartition(topic, partition, start) for (topic, partition), (start, _) in ranges.items()]
        )
        deadline = datetime.now(UTC) + timedelta(seconds=timeout_seconds)
        pending = {key: stop for key, (_, stop) in ranges.items()}
        while pending and datetime.now(UTC) < deadline:
            message = consumer.poll(0.5)
            if message is None or not _scan_message(message, pending):
                continue
            key = (message.topic(), message.partition())
            scanned += 1
            where = _record_hits(message, markers)
            if where:
                hits.append(
                    {"topic": key[0], "partition": key[1], "offset": message.offset(), "where": where}
                )
            if message.offset() + 1 >= pending[key]:
                pending.pop(key)
        if pending:
            truncated.extend(f"{t}[{p}] (timeout)" for t, p in sorted(pending))
    return {"scanned": scanned, "hits": hits, "truncated": sorted(truncated)}
