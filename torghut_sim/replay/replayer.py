"""Replay a dump into a run's simulation topics with original keys, values, headers and timestamps.

Every record goes to the simulation topic of its source topic's role (`simulation_topic(role, token)`),
to the same partition number when the target has it. The producer is idempotent with acks=all, only
failed deliveries call back (each one counted; any failure fails the replay), and the marker is written
only after a flush confirmed every record. A marker for the same dump turns a rerun into a no-op while
the target topics still hold exactly the records it counts; otherwise (topics dropped by cleanup,
emptied, added to) the dump is replayed again. Every replay that produces, forced or not, first empties
its target topics, so an interrupted or earlier replay is never counted twice.

The per-record work (read, hash, decode, produce) runs in the native engine when it is built
(`replay.native`, same semantics, several times faster); this module's data path is the fallback and
the reference the engine is tested against.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
import zstandard
from confluent_kafka import KafkaError, KafkaException, Producer
from pybase64 import b64decode

from torghut_sim.dump.io import open_decompressed, payload_sha256
from torghut_sim.errors import TorghutSimError
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.progress import ProgressCallback, ProgressTracker
from torghut_sim.kafka.readiness import TopicLeadersUnavailableError, existing_topics, records_held
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.marker import PaceRecord, ReplayMarker
from torghut_sim.replay.native import choose_engine, produce_native
from torghut_sim.replay.pacing import Pacer
from torghut_sim.replay.request import ReplayRequest, ReplayTuning
from torghut_sim.replay.topics import check_replay_target, ensure_simulation_topics
from torghut_sim.stores.kafka_admin import delete_records

log = logging.getLogger(__name__)

# Delivery errors that mean "the cluster was not there", as opposed to a refused record.
_UNREACHABLE_CODES = frozenset(
    {KafkaError._MSG_TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT}
)


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


class DeliveryTracker:
    """Counts failed deliveries (the only ones reported back) and remembers the first error."""

    def __init__(self) -> None:
        self.failures = 0
        self.first_error: KafkaError | None = None
        self.fatal: KafkaError | None = None

    def on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            self.failures += 1
            if self.first_error is None:
                self.first_error = err

    def on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal = err


def replay_producer_config(
    connection: KafkaConnection, tuning: ReplayTuning, tracker: DeliveryTracker
) -> dict[str, Any]:
    """Idempotent acks=all producer settings whose failed deliveries land in `tracker`."""
    config = connection.client_config(
        **{
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": tuning.linger_ms,
            "batch.size": tuning.batch_size,
            "compression.type": tuning.compression_type,
            "queue.buffering.max.kbytes": tuning.queue_max_kbytes,
            "queue.buffering.max.messages": tuning.queue_max_messages,
            "message.timeout.ms": tuning.delivery_timeout_ms,
            # Only failures call back: confirmation is "flush drained the queue and nothing failed".
            "delivery.report.only.error": True,
            "on_delivery": tracker.on_delivery,
            "error_cb": tracker.on_error,
        }
    )
    config.update(tuning.producer_overrides)
    return config


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


def _trusted_marker(
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
    trusted, why = _trusted_marker(connection, request, force, tuning)
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
    trusted, distrusted = _trusted_marker(connection, request, force, tuning)
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
        digest, counts = _produce_all(producer, request, topic_map, partitions, deliveries, tuning, progress)
        _flush(producer, deliveries, tuning, connection)
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


def _produce_all(
    producer: Producer,
    request: ReplayRequest,
    topic_map: Mapping[str, str],
    partitions: Mapping[str, int],
    deliveries: DeliveryTracker,
    tuning: ReplayTuning,
    progress: ProgressCallback | None,
) -> tuple[str, dict[str, int]]:
    """Stream the dump into the producer; returns the payload hash and the records per target topic."""
    counts = dict.fromkeys(topic_map.values(), 0)
    partition_limit = {topic: partitions[topic] for topic in topic_map.values()}

    def paced_sleep(seconds: float) -> None:
        # Serve producer events while waiting instead of a blind sleep.
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            producer.poll(left)

    pacer = Pacer(request.pace, sleep=paced_sleep)
    tracker = ProgressTracker("replay", progress, total=request.expected_records)
    digest = hashlib.sha256()
    loads = orjson.loads
    b64d = b64decode
    produce = producer.produce
    poll_every = tuning.poll_every
    produced = 0
    topic: str | None
    key_bytes: bytes | None
    value_bytes: bytes | None
    try:
        with open_decompressed(request.dump_path) as stream:
            for lines in hashed_line_blocks(stream, digest):
                for line in lines:
                    try:
                        obj = loads(line)
                        source = obj["source_topic"]
                        timestamp = obj["source_timestamp_ms"]
                        partition = obj["source_partition"]
                        key = obj["key_b64"]
                        value = obj["value_b64"]
                        raw_headers = obj["headers"]
                    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                        raise ReplayError(
                            f"{request.dump_path.name} line {produced + 1} is not a dump record: {exc}",
                            reason="replay_dump_invalid",
                        ) from None
                    topic = topic_map.get(source)
                    if topic is None:
                        raise ReplayError(
                            f"dump record from {source}, which is not a replayed source topic",
                            reason="replay_unknown_topic",
                        )
                    if pacer.active:
                        pacer.wait(timestamp)
                    headers: list[tuple[str, str | bytes | None]] | None = (
                        [(name, None if hv is None else b64d(hv)) for name, hv in raw_headers]
                        if raw_headers
                        else None
                    )
                    value_bytes = None if value is None else b64d(value)
                    key_bytes = None if key is None else b64d(key)
                    target_partition = partition if partition < partition_limit[topic] else -1
                    try:
                        produce(
                            topic,
                            value_bytes,
                            key_bytes,
                            target_partition,
                            timestamp=timestamp,
                            headers=headers,
                        )
                    except BufferError:
                        _produce_when_room(
                            producer, topic, value_bytes, key_bytes, target_partition, timestamp, headers
                        )
                    counts[topic] += 1
                    produced += 1
                    if produced % poll_every == 0:
                        producer.poll(0)
                        tracker.update(produced)
                        if deliveries.fatal is not None:
                            raise ReplayError(
                                f"producer failed: {deliveries.fatal}", reason="replay_producer_fatal"
                            )
    except (OSError, zstandard.ZstdError, EOFError) as exc:
        raise ReplayError(
            f"cannot read dump {request.dump_path}: {exc}", reason="replay_dump_unreadable"
        ) from None
    tracker.finish(produced)
    return digest.hexdigest(), counts


_READ_BLOCK = 4 * 1024 * 1024


def hashed_line_blocks(stream: IO[bytes], digest: Any) -> Iterator[list[bytes]]:
    """The stripped non-blank lines of a stream, in blocks, feeding the payload hash as it goes.

    A canonical block (no padding, no blank line) is hashed as one buffer; only other blocks pay for
    per-line stripping. Either way the hash equals sha256 over every stripped line + "\\n".
    """
    carry = b""
    while True:
        block = stream.read(_READ_BLOCK)
        if not block:
            break
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
            continue
        carry = data[cut:]
        yield _hash_lines(data[:cut] if cut < len(data) else data, digest)
    if carry:
        yield _hash_lines(carry + b"\n", digest)


def _hash_lines(body: bytes, digest: Any) -> list[bytes]:
    lines = body.split(b"\n")
    lines.pop()
    # Canonical when every line starts with `{` and ends with `}` (nothing to strip, no blank line):
    # min/max bound the first bytes of all lines, and each newline must follow a `}`. One counting
    # pass instead of a search per kind of padding: the check runs over every byte of the dump.
    if lines and min(lines)[:1] == b"{" == max(lines)[:1] and body.count(b"}\n") == len(lines):
        digest.update(body)
        return lines
    lines = [line for line in (raw.strip() for raw in lines) if line]
    for line in lines:
        digest.update(line + b"\n")
    return lines


def _produce_when_room(
    producer: Producer,
    topic: str,
    value: bytes | None,
    key: bytes | None,
    partition: int,
    timestamp: int,
    headers: Any,
) -> None:
    """Wait for the local queue to drain enough to take the record (backpressure, not an error)."""
    while True:
        producer.poll(0.05)
        try:
            producer.produce(topic, value, key, partition, timestamp=timestamp, headers=headers)
        except BufferError:
            continue
        return


def _flush(
    producer: Producer, deliveries: DeliveryTracker, tuning: ReplayTuning, connection: KafkaConnection
) -> None:
    """Wait until every record is confirmed; a broker that stays away is a clear error, not a hang."""
    remaining = len(producer)
    for _attempt in range(tuning.flush_attempts):
        remaining = producer.flush(tuning.flush_timeout_seconds)
        if remaining == 0:
            break
    if remaining:
        raise ReplayError(
            f"{remaining} records still undelivered after {tuning.flush_attempts} flushes of "
            f"{tuning.flush_timeout_seconds:.0f}s; is Kafka at {connection.describe()} reachable?",
            reason="broker_unreachable",
        )
    if deliveries.fatal is not None:
        raise ReplayError(f"producer failed: {deliveries.fatal}", reason="replay_producer_fatal")
    if deliveries.failures:
        first = deliveries.first_error
        unreachable = first is not None and first.code() in _UNREACHABLE_CODES
        raise ReplayError(
            f"{deliveries.failures} records were not delivered (first error: {first})",
            reason="broker_unreachable" if unreachable else "replay_delivery_failed",
        )
