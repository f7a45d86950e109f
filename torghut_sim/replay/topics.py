"""Simulation topics of a replay: the safety check on every target and their creation when missing."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.replay.errors import ReplayError, ReplayTargetRefusedError
from torghut_sim.topics import PRODUCTION_TOPICS, SIMULATION_TOPIC_PREFIX

_TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code TOPIC_ALREADY_EXISTS


def check_replay_target(topic: str, source_topics: Collection[str] = ()) -> None:
    """Refuse a target that is a production or source topic, or lacks the simulation prefix."""
    if topic in PRODUCTION_TOPICS or topic in source_topics:
        raise ReplayTargetRefusedError(f"refusing to replay into source/production topic {topic}")
    if not topic.startswith(SIMULATION_TOPIC_PREFIX):
        raise ReplayTargetRefusedError(f"replay target {topic} lacks the {SIMULATION_TOPIC_PREFIX!r} prefix")


def topic_partitions(admin: AdminClient, topics: Collection[str], timeout: float) -> dict[str, int]:
    """Partition counts of the topics that exist (missing ones are left out)."""
    metadata = admin.list_topics(timeout=timeout)
    counts: dict[str, int] = {}
    for name in topics:
        info = metadata.topics.get(name)
        if info is not None and info.error is None and info.partitions:
            counts[name] = len(info.partitions)
    return counts


def _wait_for_leaders(admin: AdminClient, topics: Collection[str], timeout: float) -> None:
    """Wait until every partition of new topics has a leader, so the first produce or offset query works."""
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=timeout)
        ready = all(
            (info := metadata.topics.get(name)) is not None
            and info.error is None
            and info.partitions
            and all(p.leader >= 0 for p in info.partitions.values())
            for name in topics
        )
        if ready:
            return
        if time.monotonic() > deadline:
            raise ReplayError(
                f"new topics have no leader after {timeout:.0f}s", reason="replay_topic_create_failed"
            )
        time.sleep(0.1)


def ensure_simulation_topics(
    connection: KafkaConnection,
    targets: Mapping[str, str],
    *,
    default_partitions: int = 6,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> dict[str, int]:
    """Create each missing target with its source's partition count; returns every target's count.

    `targets` maps source topic -> simulation topic; a source absent from this cluster falls back to
    `default_partitions`.
    """
    for target in targets.values():
        check_replay_target(target, targets.keys())
    admin = AdminClient(connection.client_config())
    try:
        existing = topic_partitions(admin, [*targets.keys(), *targets.values()], timeout)
        missing = {
            target: existing.get(source, default_partitions)
            for source, target in targets.items()
            if target not in existing
        }
        if missing:
            futures = admin.create_topics(
                [
                    NewTopic(t, num_partitions=n, replication_factor=replication_factor)
                    for t, n in missing.items()
                ],
                operation_timeout=timeout,
                request_timeout=timeout,
            )
            for name, future in futures.items():
                try:
                    future.result()
                except KafkaException as exc:
                    # Another replay of the same run may have created it in the meantime: fine.
                    if exc.args and getattr(exc.args[0], "code", lambda: None)() == _TOPIC_ALREADY_EXISTS:
                        continue
                    raise ReplayError(
                        f"cannot create topic {name}: {exc}", reason="replay_topic_create_failed"
                    ) from None
            _wait_for_leaders(admin, missing, timeout)
            existing.update(topic_partitions(admin, missing, timeout))
            for name, count in missing.items():
                existing.setdefault(name, count)
    except KafkaException as exc:
        raise ReplayError(
            f"Kafka at {connection.describe()} did not answer: {exc}", reason="broker_unreachable"
        ) from None
    return {target: existing[target] for target in targets.values()}
