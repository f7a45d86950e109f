"""The Python data path of a replay: stream the dump into an idempotent producer and confirm delivery."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from typing import IO, Any

import orjson
import zstandard
from confluent_kafka import KafkaError, Producer
from pybase64 import b64decode

from torghut_sim.dump.io import open_decompressed
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.progress import ProgressCallback, ProgressTracker
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.pacing import Pacer
from torghut_sim.replay.request import ReplayRequest, ReplayTuning

# Delivery errors that mean "the cluster was not there", as opposed to a refused record.
_UNREACHABLE_CODES = frozenset(
    {KafkaError._MSG_TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT}
)


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


def produce_all(
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


def flush_all(
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
