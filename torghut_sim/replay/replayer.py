"""Replay a dump into a run's simulation topics with original keys, values, headers and timestamps.

Every record goes to the simulation topic of its source topic's role (`simulation_topic(role, token)`),
to the same partition number when the target has it. The producer is idempotent with acks=all, only
failed deliveries call back (each one counted; any failure fails the replay), and the marker is written
only after a flush confirmed every record. A marker for the same dump turns a rerun into a no-op while
the target topics still hold exactly the records it counts; otherwise (topics dropped by cleanup,
emptied, added to) the dump is replayed again. Every replay that produces, forced or not, first empties
its target topics, so an interrupted or earlier replay is never counted twice.

The per-record work (read, hash, decode, produce) runs in the native engine when it is built
(`replay.native`, same semantics, several times faster); the Python data path (`replay.produce`) is the
fallback and the reference the engine is tested against.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer

from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.progress import ProgressCallback
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.marker import PaceRecord, ReplayMarker
from torghut_sim.replay.native import choose_engine, produce_native
from torghut_sim.replay.produce import DeliveryTracker, flush_all, produce_all, replay_producer_config
from torghut_sim.replay.request import ReplayRequest, ReplayTuning
from torghut_sim.replay.rerun import empty_targets, trusted_marker
from torghut_sim.replay.topics import ensure_simulation_topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayResult:
    """A finished replay, or the marker of an earlier one when nothing had to be produced."""

    marker: ReplayMarker
    produced: int
    skipped: bool
    # Why a marker of this very dump was not trusted (its topics no longer hold what it says), if so.
    distrusted_marker: str | None = None
    # Records found in the targets and deleted before producing (an interrupted or earlier replay's).
    records_deleted: Mapping[str, int] = field(default_factory=dict)


def reset_untrusted_targets(
    connection: KafkaConnection,
    request: ReplayRequest,
    *,
    force: bool = False,
    tuning: ReplayTuning | None = None,
) -> dict[str, Any]:
    """Empty the targets now unless a trusted marker says the replay will skip.

    Returns `distrusted_marker` (why an existing marker was not trusted, or None) and `records_deleted`
    per topic.

    For a run whose consumers subscribe before the replay starts: they must never read what an
    interrupted or distrusted replay left behind (the replay itself would only delete it later).
    """
    tuning = tuning or ReplayTuning()
    trusted, why = trusted_marker(connection, request, force, tuning)
    if trusted is not None:
        return {"distrusted_marker": None, "records_deleted": {}}
    request.marker_path.unlink(missing_ok=True)
    deleted = empty_targets(connection, request.topic_map().values(), tuning.metadata_timeout_seconds)
    return {"distrusted_marker": why, "records_deleted": deleted}


def replay_dump(
    connection: KafkaConnection,
    request: ReplayRequest,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    tuning: ReplayTuning | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ReplayResult:
    """Produce every record of the dump to the run's simulation topics, or skip when already replayed."""
    tuning = tuning or ReplayTuning()
    topic_map = request.topic_map()
    if not request.dump_path.exists():
        raise ReplayError(f"dump {request.dump_path} does not exist", reason="replay_dump_missing")
    trusted, distrusted = trusted_marker(connection, request, force, tuning)
    if trusted is not None:
        return ReplayResult(trusted, produced=0, skipped=True)
    # Chosen before any topic is created: an engine that is insisted on but missing changes nothing.
    engine = choose_engine(request, tuning)
    # From here on the topics change: a marker (trusted or not, forced past) no longer speaks for them,
    # and an interruption must leave none behind.
    request.marker_path.unlink(missing_ok=True)
    partitions = ensure_simulation_topics(
        connection,
        topic_map,
        default_partitions=request.default_partitions,
        replication_factor=request.replication_factor,
        timeout=tuning.metadata_timeout_seconds,
    )
    emptied = empty_targets(connection, partitions, tuning.metadata_timeout_seconds)
    if any(emptied.values()):
        log.warning("replay into %s starts from empty topics: deleted %s", request.run_token, emptied)
    started_at = datetime.now(UTC)
    started = clock()
    if engine is not None:
        digest, counts = produce_native(engine, connection, request, topic_map, partitions, tuning, progress)
    else:
        deliveries = DeliveryTracker()
        producer = Producer(replay_producer_config(connection, tuning, deliveries))
        digest, counts = produce_all(producer, request, topic_map, partitions, deliveries, tuning, progress)
        flush_all(producer, deliveries, tuning, connection)
    produced = sum(counts.values())
    marker = ReplayMarker(
        dump_file=request.dump_path.name,
        dump_sha256=digest,
        run_token=request.run_token,
        records=produced,
        records_by_topic=counts,
        topic_map=topic_map,
        pace=PaceRecord(
            mode=request.pace.mode,
            acceleration=request.pace.acceleration,
            max_sleep_seconds=request.pace.max_sleep_seconds,
        ),
        duration_seconds=round(clock() - started, 3),
        started_at=started_at,
        completed_at=datetime.now(UTC),
    )
    marker.write(request.marker_path)
    return ReplayResult(
        marker, produced=produced, skipped=False, distrusted_marker=distrusted, records_deleted=emptied
    )
