"""Deleting a run's Kafka state: its topics, its consumer groups, the records of its topics.

Every call refuses names outside the simulation namespace before it contacts the broker, so a wrong
argument can never reach a production topic or group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from confluent_kafka import OFFSET_END, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from torghut_sim.errors import TorghutSimError
from torghut_sim.kafka.connection import quiet
from torghut_sim.kafka.readiness import DEFAULT_TIMEOUT_SECONDS as READY_TIMEOUT_SECONDS
from torghut_sim.kafka.readiness import watermarks
from torghut_sim.stores.errors import StoreError
from torghut_sim.stores.safety import require_simulation_group, require_simulation_topic

TIMEOUT_SECONDS = 30.0


class GroupInUseError(StoreError):
    """A consumer group still has members, so Kafka will not delete it."""

    reason = "consumer_group_in_use"


def delete_topics(kafka_config: Mapping[str, str], names: Sequence[str]) -> None:
    """Delete simulation topics (refusing any other topic)."""
    for name in names:
        require_simulation_topic(name)
    if not names:
        return
    # The client must outlive its futures: a collected handle fails them with _DESTROY.
    admin = AdminClient(quiet(kafka_config))
    futures = admin.delete_topics(list(names), operation_timeout=TIMEOUT_SECONDS)
    for name, future in futures.items():
        try:
            future.result(2 * TIMEOUT_SECONDS)
        except KafkaException as exc:
            raise StoreError(f"deleting topic {name} failed: {exc}") from exc


def delete_consumer_groups(
    kafka_config: Mapping[str, str], names: Sequence[str], *, missing_ok: bool = False
) -> list[str]:
    """Delete runs' consumer groups (refusing any other group); returns the ones that existed."""
    for name in names:
        require_simulation_group(name)
    if not names:
        return []
    admin = AdminClient(quiet(kafka_config))
    futures = admin.delete_consumer_groups(list(names), request_timeout=TIMEOUT_SECONDS)
    deleted: list[str] = []
    for name, future in futures.items():
        try:
            future.result(2 * TIMEOUT_SECONDS)
        except KafkaException as exc:
            code = exc.args[0].code()
            if missing_ok and code == KafkaError.GROUP_ID_NOT_FOUND:
                continue
            if code == KafkaError.NON_EMPTY_GROUP:
                raise GroupInUseError(
                    f"consumer group {name} still has members (a consumer of this run is running)"
                ) from None
            raise StoreError(f"deleting consumer group {name} failed: {exc}") from exc
        deleted.append(name)
    return sorted(deleted)


def delete_records(kafka_config: Mapping[str, str], topics: Sequence[str]) -> dict[str, int]:
    """Delete every record of simulation topics, keeping the topics; returns records deleted per topic."""
    for name in topics:
        require_simulation_topic(name)
    admin = AdminClient(quiet(kafka_config))
    try:
        present = [t for t in topics if t in admin.list_topics(timeout=TIMEOUT_SECONDS).topics]
        # The run's topics may have been created a moment ago, by this very provisioning.
        marks = watermarks(kafka_config, present, READY_TIMEOUT_SECONDS)
    except KafkaException as exc:
        raise StoreError(f"reading the offsets of {', '.join(topics)} failed: {exc}") from exc
    except TorghutSimError as exc:
        raise StoreError(
            f"reading the offsets of {', '.join(topics)} failed: {exc.message}", reason=exc.reason
        ) from exc
    held = {tp: high - low for tp, (low, high) in marks.items()}
    wanted = [TopicPartition(t, p, OFFSET_END) for t, p in sorted(marks)]
    deleted = dict.fromkeys(sorted({tp.topic for tp in wanted}), 0)
    to_delete = [tp for tp in wanted if held[(tp.topic, tp.partition)] > 0]
    if not to_delete:
        return deleted
    for tp, future in admin.delete_records(to_delete, operation_timeout=TIMEOUT_SECONDS).items():
        try:
            future.result(2 * TIMEOUT_SECONDS)
        except KafkaException as exc:
            raise StoreError(f"deleting the records of {tp.topic}[{tp.partition}] failed: {exc}") from exc
        deleted[tp.topic] += held[(tp.topic, tp.partition)]
    return deleted
