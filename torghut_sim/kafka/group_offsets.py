"""How far a consumer group has read: its committed offsets against the watermarks of its topics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec

TIMEOUT_SECONDS = 30.0
EARLIEST: OffsetSpec = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
LATEST: OffsetSpec = OffsetSpec.latest()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class PartitionOffsets:
    """One partition: its low and high watermark and the group's committed offset (None: none yet)."""

    topic: str
    partition: int
    low: int
    high: int
    committed: int | None

    @property
    def remaining(self) -> int:
        """Records the group has not committed past yet."""
        start = self.low if self.committed is None else max(self.committed, self.low)
        return max(self.high - start, 0)


@dataclass(frozen=True)
class GroupOffsets:
    """A group's position on a set of topics; missing topics are listed, not failed."""

    group: str
    partitions: tuple[PartitionOffsets, ...]
    missing_topics: tuple[str, ...] = ()

    @property
    def remaining(self) -> int:
        """Records of the topics the group has still to commit past."""
        return sum(p.remaining for p in self.partitions)

    @property
    def caught_up(self) -> bool:
        """True when every partition of every topic is committed up to its high watermark."""
        return not self.missing_topics and self.remaining == 0

    def committed_topics(self) -> set[str]:
        """Topics on which the group has committed anything."""
        return {p.topic for p in self.partitions if p.committed is not None}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures per topic: committed, end and remaining records."""
        topics: dict[str, dict[str, int]] = {}
        for p in self.partitions:
            entry = topics.setdefault(p.topic, {"committed": 0, "end": 0, "remaining": 0})
            entry["committed"] += max(p.committed or p.low, p.low) - p.low
            entry["end"] += p.high - p.low
            entry["remaining"] += p.remaining
        return {
            "group": self.group,
            "caught_up": self.caught_up,
            "remaining": self.remaining,
            "topics": dict(sorted(topics.items())),
            "missing_topics": list(self.missing_topics),
        }


def _topic_partitions(admin: AdminClient, topics: Sequence[str]) -> tuple[list[TopicPartition], list[str]]:
    metadata = admin.list_topics(timeout=TIMEOUT_SECONDS).topics
    present = [t for t in topics if t in metadata and metadata[t].error is None]
    missing = sorted(set(topics) - set(present))
    tps = [TopicPartition(t, p) for t in present for p in sorted(metadata[t].partitions)]
    return tps, missing


def _list_offsets(admin: AdminClient, tps: Sequence[TopicPartition], spec: OffsetSpec) -> dict[Any, int]:
    if not tps:
        return {}
    futures = admin.list_offsets({tp: spec for tp in tps}, request_timeout=TIMEOUT_SECONDS)
    return {(tp.topic, tp.partition): int(f.result().offset) for tp, f in futures.items()}


def _committed(admin: AdminClient, group: str, tps: Sequence[TopicPartition]) -> dict[Any, int | None]:
    if not tps:
        return {}
    request = [ConsumerGroupTopicPartitions(group, list(tps))]
    try:
        result = admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT_SECONDS)[group].result()
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
            return {}
        raise
    # A partition without a commit answers a negative sentinel offset.
    return {
        (tp.topic, tp.partition): (int(tp.offset) if tp.offset >= 0 else None)
        for tp in result.topic_partitions
    }


def read_group_offsets(kafka_config: Mapping[str, str], group: str, topics: Sequence[str]) -> GroupOffsets:
    """The group's committed offsets and each partition's watermarks, read with the admin API."""
    admin = AdminClient(dict(kafka_config))
    tps, missing = _topic_partitions(admin, topics)
    low = _list_offsets(admin, tps, EARLIEST)
    high = _list_offsets(admin, tps, LATEST)
    committed = _committed(admin, group, tps)
    partitions = tuple(
        PartitionOffsets(
            tp.topic,
            tp.partition,
            low[(tp.topic, tp.partition)],
            high[(tp.topic, tp.partition)],
            committed.get((tp.topic, tp.partition)),
        )
        for tp in tps
    )
    return GroupOffsets(group, partitions, tuple(missing))


def topic_records(kafka_config: Mapping[str, str], topics: Sequence[str]) -> dict[str, int]:
    """Records each topic holds now (high minus low watermark, summed over partitions; missing: 0)."""
    admin = AdminClient(dict(kafka_config))
    tps, _ = _topic_partitions(admin, topics)
    low = _list_offsets(admin, tps, EARLIEST)
    high = _list_offsets(admin, tps, LATEST)
    out = dict.fromkeys(topics, 0)
    for key, end in high.items():
        out[key[0]] += end - low[key]
    return out
