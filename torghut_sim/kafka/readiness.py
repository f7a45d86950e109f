"""Topics that are ready to use: created, every partition led, and the leader answering offset requests.

A broker that has just created a topic (or just started) lists a leader in its metadata a moment before
that leader has loaded the partition; until then offset and time-index requests fail with
NOT_LEADER_OR_FOLLOWER. Every path that creates topics and then reads or writes them (seeding, the
replay's and the run's topics, the benchmark, the tests) waits here, and every offset it reads goes
through the same bounded wait: a ListOffsets answer from each partition's leader is the proof of
readiness. Giving up says `[topic_leaders_unavailable]` with the partitions still waiting.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec
from confluent_kafka.cimpl import NewTopic

from torghut_sim.errors import TorghutSimError
from torghut_sim.kafka.connection import quiet

# How long a caller waits by default for a topic to become usable: a cold broker on two busy cores.
DEFAULT_TIMEOUT_SECONDS = 60.0
# One round of metadata and offset requests never waits longer than this, so the deadline is kept.
_ROUND_SECONDS = 5.0
_PAUSE_SECONDS = 0.1

# Errors no wait can cure (refused access, a request the broker cannot serve). Anything else a partition
# answers while its leader settles (NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH, LEADER_NOT_AVAILABLE,
# UNKNOWN_TOPIC_OR_PARTITION, timeouts, ...) is waited out, within the caller's bound.
PERMANENT_CODES = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError._AUTHENTICATION,
        KafkaError.UNSUPPORTED_VERSION,
        KafkaError._UNSUPPORTED_FEATURE,
        KafkaError._INVALID_ARG,
        KafkaError.INVALID_REQUEST,
    }
)

Partition = tuple[str, int]
# What to ask each partition: its first offset, its end, or the first offset at or after a timestamp (ms).
OffsetQuery = str | int


class TopicLeadersUnavailableError(TorghutSimError):
    """Partitions still without a leader answering offset requests when the wait ran out."""

    reason = "topic_leaders_unavailable"


class TopicCreateError(TorghutSimError):
    """The broker refused to create a topic."""

    reason = "topic_create_failed"


def _transient(error: KafkaError) -> bool:
    return error.code() not in PERMANENT_CODES and not error.fatal()


def _spec(query: OffsetQuery) -> OffsetSpec:
    spec: OffsetSpec
    if query == "earliest":
        spec = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
    elif query == "latest":
        spec = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    elif isinstance(query, int):
        spec = OffsetSpec.for_timestamp(query)
    else:
        raise ValueError(f"unknown offset query {query!r}")
    return spec


def _led_partitions(admin: AdminClient, topics: Collection[str], timeout: float) -> dict[str, int] | str:
    """Partition counts when every partition of every topic has a leader; else why not (one line)."""
    metadata = admin.list_topics(timeout=timeout)
    counts: dict[str, int] = {}
    for name in topics:
        info = metadata.topics.get(name)
        if info is None or info.error is not None or not info.partitions:
            return f"{name}: {info.error if info is not None and info.error else 'not in the metadata yet'}"
        leaderless = sorted(p for p, meta in info.partitions.items() if meta.leader < 0 or meta.error)
        if leaderless:
            return f"{name}{leaderless}: no leader in the metadata yet"
        counts[name] = len(info.partitions)
    return counts


def read_offsets(
    config: Mapping[str, Any],
    topics: Collection[str],
    queries: Collection[OffsetQuery] = ("earliest", "latest"),
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[OffsetQuery, dict[Partition, int]]:
    """Each query's offset for every partition of the topics, once their leaders answer; bounded.

    A timestamp query answers -1 for a partition with no record at or after that time.
    """
    topics = sorted(set(topics))
    if not topics:
        return {query: {} for query in queries}
    admin = AdminClient(quiet(config))
    deadline = time.monotonic() + timeout
    answers: dict[OffsetQuery, dict[Partition, int]] = {query: {} for query in queries}
    waiting = "no answer yet"
    while True:
        step = max(min(_ROUND_SECONDS, deadline - time.monotonic()), 0.5)
        unreachable = False
        try:
            led = _led_partitions(admin, topics, step)
        except KafkaException as exc:
            led, unreachable = f"metadata request failed: {exc.args[0]}", True
        if isinstance(led, str):
            waiting = led
        else:
            waiting = _ask(admin, led, answers, step)
            if not waiting:
                return answers
        if time.monotonic() >= deadline:
            raise TopicLeadersUnavailableError(
                f"{', '.join(topics)} not usable after {timeout:.0f}s at {config.get('bootstrap.servers')}: "
                f"{waiting}",
                reason="broker_unreachable" if unreachable else None,
            )
        time.sleep(_PAUSE_SECONDS)


def _ask(
    admin: AdminClient,
    partitions: Mapping[str, int],
    answers: dict[OffsetQuery, dict[Partition, int]],
    timeout: float,
) -> str:
    """One ListOffsets round for every unanswered (query, partition); what still waits, '' when none."""
    still: list[str] = []
    for query, answered in answers.items():
        asked = {
            TopicPartition(topic, p): _spec(query)
            for topic, count in partitions.items()
            for p in range(count)
            if (topic, p) not in answered
        }
        if not asked:
            continue
        futures = admin.list_offsets(asked, request_timeout=timeout)
        for tp, future in futures.items():
            try:
                info = future.result()
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if not _transient(error):
                    raise TopicLeadersUnavailableError(
                        f"{tp.topic}[{tp.partition}] refused an offset request: {error}",
                        reason="kafka_offsets_refused",
                    ) from None
                still.append(f"{tp.topic}[{tp.partition}]: {error.str()}")
                continue
            answered[(tp.topic, tp.partition)] = int(info.offset)
    if still:
        shown = "; ".join(sorted(set(still))[:3])
        return shown + (f" and {len(set(still)) - 3} more" if len(set(still)) > 3 else "")
    return ""


def watermarks(
    config: Mapping[str, Any], topics: Collection[str], timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> dict[Partition, tuple[int, int]]:
    """Low and high watermark of every partition of the topics, through the wait for their leaders."""
    offsets = read_offsets(config, topics, ("earliest", "latest"), timeout)
    return {tp: (low, offsets["latest"][tp]) for tp, low in offsets["earliest"].items()}


def records_held(
    config: Mapping[str, Any], topics: Collection[str], timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> dict[str, int]:
    """Records each topic holds now (high minus low watermark, summed over its partitions)."""
    held = dict.fromkeys(sorted(set(topics)), 0)
    for (topic, _partition), (low, high) in watermarks(config, topics, timeout).items():
        held[topic] += high - low
    return held


def wait_for_topics(
    config: Mapping[str, Any], topics: Collection[str], timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> dict[str, int]:
    """Partition counts of the topics, once every partition's leader answers offset requests."""
    counts: dict[str, int] = dict.fromkeys(sorted(set(topics)), 0)
    for topic, _partition in read_offsets(config, topics, ("latest",), timeout)["latest"]:
        counts[topic] += 1
    return counts


def existing_topics(config: Mapping[str, Any], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> dict[str, int]:
    """Every topic of the cluster with its partition count."""
    metadata = AdminClient(quiet(config)).list_topics(timeout=timeout)
    return {name: len(info.partitions) for name, info in metadata.topics.items() if info.error is None}


def create_topics(
    config: Mapping[str, Any],
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    topic_config: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, int]:
    """Create the missing topics (name -> partitions) and wait until all of them are usable.

    Topics that already exist keep their partition count and are waited for as well: after a broker
    restart their partitions may still be loading. Returns every topic's partition count.
    """
    if not topics:
        return {}
    admin = AdminClient(quiet(config))
    try:
        existing = set(admin.list_topics(timeout=min(timeout, 30.0)).topics)
    except KafkaException as exc:
        raise TopicLeadersUnavailableError(
            f"Kafka at {config.get('bootstrap.servers')} did not answer: {exc.args[0]}",
            reason="broker_unreachable",
        ) from None
    # Every topic is asked for, not only those missing from this broker's metadata: right after a
    # deletion (cleanup) the metadata may still list a topic the controller has already dropped, and
    # only the controller's answer (created, or TOPIC_ALREADY_EXISTS) is certain.
    futures = admin.create_topics(
        [
            NewTopic(
                name,
                num_partitions=count,
                replication_factor=replication_factor,
                config=dict(topic_config or {}),
            )
            for name, count in sorted(topics.items())
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            # Created before, or by another process in the meantime: fine, it is waited for below. A
            # refusal (say, no create permission) of a topic that exists is fine as well.
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS and name not in existing:
                raise TopicCreateError(f"cannot create topic {name}: {exc.args[0]}") from None
    return wait_for_topics(config, topics, timeout)
