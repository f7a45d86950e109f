"""What a replay finds from earlier ones: a marker trusted only while its topics hold what it counts."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import zstandard
from confluent_kafka import KafkaException

from torghut_sim.dump.io import payload_sha256
from torghut_sim.errors import TorghutSimError
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.readiness import TopicLeadersUnavailableError, existing_topics, records_held
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.marker import ReplayMarker
from torghut_sim.replay.request import ReplayRequest, ReplayTuning
from torghut_sim.replay.topics import check_replay_target
from torghut_sim.stores.kafka_admin import delete_records

log = logging.getLogger(__name__)


def empty_targets(connection: KafkaConnection, topics: Collection[str], timeout: float) -> dict[str, int]:
    """Delete every record of the replay's target topics (kept, with their partitions); records deleted.

    A replay always starts from empty targets, so whatever an interrupted replay or an earlier one left
    there can never be counted twice. The topics are checked empty afterwards.
    """
    for topic in topics:
        check_replay_target(topic)
    config = connection.client_config()
    try:
        deleted = delete_records(config, sorted(topics))
        left = {t: n for t, n in records_held(config, topics, timeout).items() if n}
    except TorghutSimError as exc:
        reason = exc.reason if exc.reason not in ("store_error", "torghut_sim_error") else None
        raise ReplayError(
            f"emptying the replay's topics failed: {exc.message}",
            reason=reason or "replay_topics_not_emptied",
        ) from None
    if left:
        raise ReplayError(
            f"topics still hold records after emptying: {left}", reason="replay_topics_not_emptied"
        )
    return deleted


def marker_discrepancy(connection: KafkaConnection, marker: ReplayMarker, timeout: float) -> str | None:
    """Why the target topics do not hold exactly what the marker says, or None when they do.

    Both data paths produce idempotently with acks=all and no transactions, into topics without
    compaction: every record takes exactly one offset, so high minus low watermark is the record count.
    Topics dropped (cleanup), emptied or added to since the marker was written all show here.
    """
    targets = sorted(marker.records_by_topic)
    config = connection.client_config()
    try:
        present = existing_topics(config, timeout)
        missing = [t for t in targets if t not in present]
        if missing:
            return f"{', '.join(missing)} no longer exist{'s' if len(missing) == 1 else ''}"
        held = records_held(config, targets, timeout)
    except TopicLeadersUnavailableError as exc:
        if exc.reason != TopicLeadersUnavailableError.reason:
            raise ReplayError(exc.message, reason=exc.reason) from None
        # Say, a topic deleted a moment ago that this broker still lists: replaying again is always safe.
        return f"the topics cannot be read ({exc.message})"
    except KafkaException as exc:
        raise ReplayError(
            f"Kafka at {connection.describe()} did not answer: {exc}", reason="broker_unreachable"
        ) from None
    except TorghutSimError as exc:
        raise ReplayError(exc.message, reason=exc.reason) from None
    differ = [
        f"{t} holds {held[t]} records, the marker says {marker.records_by_topic[t]}"
        for t in targets
        if held[t] != marker.records_by_topic[t]
    ]
    return "; ".join(differ) or None


def _existing_marker(request: ReplayRequest) -> ReplayMarker | None:
    """The marker of an earlier replay of this very dump into this run, if any; refuses a different dump."""
    if not request.marker_path.exists():
        return None
    marker = ReplayMarker.read(request.marker_path)
    digest, _count = _dump_payload(request.dump_path)
    if marker.dump_sha256 == digest and marker.run_token == request.run_token:
        return marker
    raise ReplayError(
        f"{request.marker_path} records a replay of another dump ({marker.dump_sha256[:12]}…, run "
        f"{marker.run_token}); use force to replay {request.dump_path.name} as well",
        reason="replay_marker_mismatch",
    )


def _dump_payload(path: Path) -> tuple[str, int]:
    try:
        return payload_sha256(path)
    except (OSError, zstandard.ZstdError, EOFError) as exc:
        raise ReplayError(f"cannot read dump {path}: {exc}", reason="replay_dump_unreadable") from None


def trusted_marker(
    connection: KafkaConnection, request: ReplayRequest, force: bool, tuning: ReplayTuning
) -> tuple[ReplayMarker | None, str | None]:
    """The marker that makes this replay a no-op, if any; else why an existing one is not trusted."""
    if force:
        return None, None
    marker = _existing_marker(request)
    if marker is None:
        return None, None
    # A marker is trusted only while its topics still hold exactly what it says.
    distrusted = marker_discrepancy(connection, marker, tuning.metadata_timeout_seconds)
    if distrusted is None:
        return marker, None
    log.warning(
        "replay marker %s is not trusted (%s): replaying %s again from empty topics",
        request.marker_path,
        distrusted,
        request.dump_path.name,
    )
    return None, distrusted
