"""Simulation topics of a replay: the safety check on every target and their creation when missing."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from confluent_kafka import KafkaException

from torghut_sim.errors import TorghutSimError
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.readiness import (
    DEFAULT_TIMEOUT_SECONDS,
    TopicCreateError,
    create_topics,
    existing_topics,
)
from torghut_sim.replay.errors import ReplayError, ReplayTargetRefusedError
from torghut_sim.topics import PRODUCTION_TOPICS, SIMULATION_TOPIC_PREFIX


def check_replay_target(topic: str, source_topics: Collection[str] = ()) -> None:
    """Refuse a target that is a production or source topic, or lacks the simulation prefix."""
    if topic in PRODUCTION_TOPICS or topic in source_topics:
        raise ReplayTargetRefusedError(f"refusing to replay into source/production topic {topic}")
    if not topic.startswith(SIMULATION_TOPIC_PREFIX):
        raise ReplayTargetRefusedError(f"replay target {topic} lacks the {SIMULATION_TOPIC_PREFIX!r} prefix")


def ensure_simulation_topics(
    connection: KafkaConnection,
    targets: Mapping[str, str],
    *,
    default_partitions: int = 6,
    replication_factor: int = 1,
    timeout: float = 30.0,
    ready_timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, int]:
    """Create each missing target with its source's partition count, wait until every target is usable.

    `targets` maps source topic -> simulation topic; a source absent from this cluster falls back to
    `default_partitions`. `timeout` bounds the first metadata request (a broker that is not there),
    `ready_timeout` the wait for the targets' leaders. Returns every target's partition count.
    """
    for target in targets.values():
        check_replay_target(target, targets.keys())
    config = connection.client_config()
    try:
        existing = existing_topics(config, timeout)
        wanted = {
            target: existing.get(target) or existing.get(source) or default_partitions
            for source, target in targets.items()
        }
        # Existing targets are waited for too: after a broker restart they may still be loading.
        counts = create_topics(config, wanted, replication_factor=replication_factor, timeout=ready_timeout)
    except TopicCreateError as exc:
        raise ReplayError(exc.message, reason="replay_topic_create_failed") from None
    except TorghutSimError as exc:
        raise ReplayError(exc.message, reason=exc.reason) from None
    except KafkaException as exc:
        raise ReplayError(
            f"Kafka at {connection.describe()} did not answer: {exc}", reason="broker_unreachable"
        ) from None
    return {target: counts[target] for target in targets.values()}
