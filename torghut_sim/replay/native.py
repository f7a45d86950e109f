"""The replay's data path in the native engine: the job it gets, its progress, its result and its errors.

Python keeps every decision of the replay (marker, topics, refusals); the engine reads the dump, hashes
it and produces every record exactly as the Python data path does (`produce.produce_all`), only
faster. The job format is documented in native/kafka-engine/README.md, section "replay".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torghut_sim.dump.io import dump_format
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import connection_job, engine_errors_as, run_engine, use_native
from torghut_sim.kafka.progress import ProgressCallback, ProgressTracker
from torghut_sim.replay.errors import ReplayError

if TYPE_CHECKING:
    from torghut_sim.replay.request import ReplayRequest, ReplayTuning

# How often the engine reports its confirmed count; the tracker throttles the callback the same way.
PROGRESS_INTERVAL_MS = 500


def choose_engine(request: ReplayRequest, tuning: ReplayTuning) -> Path | None:
    """The engine binary for this replay, or None for the Python data path."""
    if request.pace.mode != "max_throughput":
        # A paced replay runs at the pace, not at the data path's speed: Python's pacer stays the only one.
        return None
    if tuning.producer_overrides:
        # librdkafka properties mean nothing to the engine's client; only the Python producer honours them.
        if tuning.engine == "native":
            raise ReplayError(
                "producer_overrides need the Python replay (librdkafka settings); use engine='python'",
                reason="replay_engine_unsupported",
            )
        return None
    with engine_errors_as(ReplayError):
        return use_native(tuning.engine)


def replay_job(
    connection: KafkaConnection,
    request: ReplayRequest,
    topic_map: Mapping[str, str],
    partitions: Mapping[str, int],
    tuning: ReplayTuning,
) -> dict[str, Any]:
    """The engine job of a replay: the dump, where each source goes, and the producer settings."""
    return {
        **connection_job(connection),
        "dump_path": str(request.dump_path.resolve()),
        "topic_map": dict(topic_map),
        "partitions": {target: partitions[target] for target in topic_map.values()},
        "expected_records": request.expected_records or 0,
        "linger_ms": tuning.linger_ms,
        "batch_max_bytes": tuning.batch_size,
        "compression": tuning.compression_type,
        "max_buffered_records": tuning.queue_max_messages,
        "max_buffered_bytes": tuning.queue_max_kbytes * 1024,
        "delivery_timeout_ms": tuning.delivery_timeout_ms,
        # The Python path gives up after flush_attempts flushes of flush_timeout_seconds; so does the engine.
        "flush_timeout_ms": round(tuning.flush_timeout_seconds * tuning.flush_attempts * 1000),
        "connect_timeout_ms": round(tuning.metadata_timeout_seconds * 1000),
        "progress_interval_ms": PROGRESS_INTERVAL_MS,
        "parse_workers": tuning.native_parse_workers,
    }


def produce_native(
    engine: Path,
    connection: KafkaConnection,
    request: ReplayRequest,
    topic_map: Mapping[str, str],
    partitions: Mapping[str, int],
    tuning: ReplayTuning,
    progress: ProgressCallback | None,
) -> tuple[str, dict[str, int]]:
    """Produce the dump with the engine; the payload hash and the records per target topic."""
    dump_format(request.dump_path)  # an unknown suffix fails as in the Python path, before any work
    tracker = ProgressTracker("replay", progress, total=request.expected_records)

    def on_progress(_phase: str, done: int, _total: int) -> None:
        tracker.update(done)

    job = replay_job(connection, request, topic_map, partitions, tuning)
    with engine_errors_as(ReplayError):
        result = run_engine(engine, "replay", job, on_progress)
    return parse_result(result, topic_map, tracker)


def parse_result(
    result: Mapping[str, Any], topic_map: Mapping[str, str], tracker: ProgressTracker
) -> tuple[str, dict[str, int]]:
    """The payload hash and per-target counts of a result event, checked for consistency."""
    try:
        digest = str(result["payload_sha256"])
        by_topic = {str(topic): int(count) for topic, count in result["records_by_topic"].items()}
        records = int(result["records"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReplayError(f"the engine's result is malformed: {exc!r}", reason="engine_failed") from None
    counts = dict.fromkeys(topic_map.values(), 0)
    unexpected = set(by_topic) - set(counts)
    if unexpected or sum(by_topic.values()) != records or len(digest) != 64:
        raise ReplayError(
            f"the engine's result does not add up: {records} records, {by_topic}", reason="engine_failed"
        )
    counts.update(by_topic)
    tracker.finish(records)
    return digest, counts
