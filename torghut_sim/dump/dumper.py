"""Dump the source topics of one window from Kafka into one ordered, hashed file plus its marker.

Per partition: seek with `offsets_for_times(window start)`, stop at `offsets_for_times(window end)`
clamped to the high watermark, read group-less (`assign`, no commits) and keep exactly the records with
start <= timestamp < end. Timestamps are not monotonic within a partition, so every record is filtered
on its own and the file is globally ordered by an external merge. An existing dump is reused only when
its marker and its bytes agree; a disagreeing one is refused, never silently replaced (unless forced).
"""

from __future__ import annotations

import binascii
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zstandard
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from torghut_sim.dump.coverage import CoverageAccumulator
from torghut_sim.dump.errors import DumpError, DumpHashMismatchError
from torghut_sim.dump.io import DumpWriter, WrittenDump, file_sha256, payload_sha256
from torghut_sim.dump.marker import DumpMarker, DumpMarkerInvalidError, OffsetRange, TimeRange
from torghut_sim.dump.merge import PREFIX_LEN, ExternalSorter, partition_prefix, prefix_timestamp
from torghut_sim.dump.record import PartitionLineEncoder
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.progress import ProgressCallback, ProgressTracker
from torghut_sim.topics import DUMPED_ROLES, ROLES_BY_NAME, simulation_topic

# The production source topic of every dumped role; tests and benchmarks inject their own names.
DEFAULT_SOURCE_TOPICS: Mapping[str, str] = {r.role: r.source for r in DUMPED_ROLES}
_b2a = binascii.b2a_base64


@dataclass(frozen=True)
class DumpTuning:
    """Throughput and memory knobs of the dump; the defaults keep a day under a few hundred MB."""

    consume_batch: int = 20_000
    consume_timeout_seconds: float = 0.5
    # Bytes of prefixed lines held before a sorted run is spilled to disk.
    chunk_bytes: int = 96 * 1024 * 1024
    write_block_records: int = 16_384
    stall_timeout_seconds: float = 60.0
    metadata_timeout_seconds: float = 15.0
    zstd_level: int = 3
    zstd_threads: int = 1
    # Partitions running more than this far ahead in event time are paused until the others catch up,
    # so sorted runs barely overlap. Off by default: on the local broker the re-fetches after a pause
    # cost more than the cheaper merge saves (measured by benchmarks/kafka_bench.py).
    align_horizon_ms: int = 0
    consumer_overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DumpRequest:
    """What to dump and where: window, session for coverage, files and source topic names."""

    window_start: datetime
    window_end: datetime
    dump_path: Path
    marker_path: Path
    session_start: datetime | None = None
    session_end: datetime | None = None
    source_topics: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SOURCE_TOPICS))
    run_token: str | None = None
    spill_dir: Path | None = None

    def replay_topic(self, role: str) -> str:
        """The `replay_topic` written into lines: the run's simulation topic, else its base topic."""
        if self.run_token:
            return simulation_topic(role, self.run_token)
        return ROLES_BY_NAME[role].simulation_base


@dataclass(frozen=True)
class DumpResult:
    """A finished (or reused) dump."""

    marker: DumpMarker
    dump_path: Path
    marker_path: Path
    reused: bool


@dataclass
class _PartitionState:
    """Read plan and counters of one source partition."""

    topic: str
    partition: int
    start: int
    end: int
    encoder: PartitionLineEncoder
    seen: int = 0
    kept: int = 0
    first: int = -1
    last: int = -1
    done: bool = False
    last_ts: int = -1
    paused: bool = False

    @property
    def label(self) -> str:
        return f"{self.topic}:{self.partition}"


def _utc_ms(moment: datetime, what: str) -> int:
    if moment.tzinfo is None:
        raise DumpError(f"{what} must be timezone-aware (UTC)", reason="dump_window_invalid")
    return int(moment.timestamp() * 1000)


def dump_consumer_config(connection: KafkaConnection, tuning: DumpTuning) -> dict[str, Any]:
    """The group-less, commit-free, read-committed consumer settings of the dump."""
    config = connection.client_config(
        **{
            # A throwaway id: the dump only uses assign(), so no group is joined and nothing is committed.
            "group.id": f"torghut-sim-dump-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "fetch.wait.max.ms": 100,
            "fetch.max.bytes": 64 * 1024 * 1024,
            # Small per-partition fetches keep partitions level in time, so sorted runs barely overlap
            # and the merge moves lines in long slices.
            "max.partition.fetch.bytes": 1024 * 1024,
            "queued.max.messages.kbytes": 32_768,
            "check.crcs": False,
        }
    )
    config.update(tuning.consumer_overrides)
    return config


def verify_dump(dump_path: Path, marker_path: Path) -> DumpMarker:
    """The marker of an existing dump, after re-verifying both hashes and the count against the file."""
    marker = DumpMarker.read(marker_path)
    if marker.dump_file != dump_path.name:
        raise DumpHashMismatchError(f"{marker_path} describes {marker.dump_file}, not {dump_path.name}")
    actual = file_sha256(dump_path)
    if actual != marker.sha256:
        raise DumpHashMismatchError(f"{dump_path}: sha256 {actual} != marker {marker.sha256}")
    try:
        payload, count = payload_sha256(dump_path)
    except (zstandard.ZstdError, OSError, EOFError) as exc:
        raise DumpHashMismatchError(f"{dump_path}: unreadable: {exc}") from None
    if payload != marker.payload_sha256 or count != marker.records:
        raise DumpHashMismatchError(
            f"{dump_path}: payload {payload} ({count} lines) != marker {marker.payload_sha256} "
            f"({marker.records})"
        )
    return marker


def _reusable(request: DumpRequest) -> DumpMarker | None:
    """The verified marker when an existing dump matches the request; refusals when it cannot be reused."""
    if not (request.dump_path.exists() and request.marker_path.exists()):
        return None
    try:
        marker = verify_dump(request.dump_path, request.marker_path)
    except DumpMarkerInvalidError as exc:
        raise DumpHashMismatchError(str(exc.message)) from None
    wanted = TimeRange(start=request.window_start, end=request.window_end)
    if marker.window != wanted:
        raise DumpError(
            f"existing dump covers {marker.window.start}..{marker.window.end}, not "
            f"{wanted.start}..{wanted.end}; use force to re-dump",
            reason="dump_window_mismatch",
        )
    if set(marker.records_by_topic) != set(request.source_topics.values()):
        raise DumpError(
            f"existing dump holds topics {sorted(marker.records_by_topic)}; use force to re-dump",
            reason="dump_topics_mismatch",
        )
    return marker


def _plan_partitions(
    consumer: Consumer, request: DumpRequest, start_ms: int, end_ms: int, timeout: float
) -> list[_PartitionState]:
    """Start and end offsets of every partition of every source topic."""
    topic_names = sorted(request.source_topics.values())
    rank = {topic: index for index, topic in enumerate(topic_names)}
    role_of = {topic: role for role, topic in request.source_topics.items()}
    tps: list[TopicPartition] = []
    for topic in topic_names:
        metadata = consumer.list_topics(topic, timeout=timeout)
        info = metadata.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            detail = info.error if info is not None else "absent"
            raise DumpError(f"source topic {topic} is not readable: {detail}", reason="source_topic_missing")
        tps.extend(TopicPartition(topic, p) for p in sorted(info.partitions))
    starts = consumer.offsets_for_times(
        [TopicPartition(tp.topic, tp.partition, start_ms) for tp in tps], timeout
    )
    ends = consumer.offsets_for_times([TopicPartition(tp.topic, tp.partition, end_ms) for tp in tps], timeout)
    states: list[_PartitionState] = []
    for tp, start_tp, end_tp in zip(tps, starts, ends, strict=True):
        for result in (start_tp, end_tp):
            if result.error is not None:
                raise DumpError(
                    f"offsets_for_times {tp.topic}:{tp.partition}: {result.error}",
                    reason="kafka_offsets_failed",
                )
        low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
        # -1 means no record at or after the time: the window runs to the end of the partition.
        start = start_tp.offset if start_tp.offset >= 0 else high
        end = min(end_tp.offset if end_tp.offset >= 0 else high, high)
        start = max(start, low)
        end = max(end, start)
        role = role_of[tp.topic]
        encoder = PartitionLineEncoder(
            tp.topic, tp.partition, request.replay_topic(role), partition_prefix(rank[tp.topic], tp.partition)
        )
        states.append(_PartitionState(tp.topic, tp.partition, start, end, encoder))
    return states


def dump_source(
    connection: KafkaConnection,
    request: DumpRequest,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    tuning: DumpTuning | None = None,
) -> DumpResult:
    """Dump the window's records of every source topic, or reuse a verified existing dump."""
    tuning = tuning or DumpTuning()
    start_ms = _utc_ms(request.window_start, "window start")
    end_ms = _utc_ms(request.window_end, "window end")
    if end_ms <= start_ms:
        raise DumpError("window end must be after window start", reason="dump_window_invalid")
    session_start = request.session_start or request.window_start
    session_end = request.session_end or request.window_end
    if not force:
        marker = _reusable(request)
        if marker is not None:
            return DumpResult(marker, request.dump_path, request.marker_path, reused=True)
    try:
        consumer = Consumer(dump_consumer_config(connection, tuning))
    except KafkaException as exc:
        raise DumpError(f"cannot create a consumer: {exc}", reason="kafka_connection_invalid") from None
    try:
        try:
            states = _plan_partitions(consumer, request, start_ms, end_ms, tuning.metadata_timeout_seconds)
        except KafkaException as exc:
            raise DumpError(
                f"Kafka at {connection.describe()} did not answer: {exc}", reason="broker_unreachable"
            ) from None
        coverage = CoverageAccumulator(
            _utc_ms(session_start, "session start"), _utc_ms(session_end, "session end")
        )
        spill_dir = request.spill_dir or request.dump_path.parent
        bounds = _Bounds()
        with ExternalSorter(spill_dir) as sorter:
            chunk, skipped = _consume(
                consumer, states, (start_ms, end_ms), sorter, coverage, bounds, tuning, progress
            )
            written = _write(request.dump_path, sorter, chunk, tuning, progress)
    finally:
        consumer.close()
    kept_total = sum(s.kept for s in states)
    if written.records != kept_total:
        raise DumpError(
            f"wrote {written.records} lines for {kept_total} records", reason="dump_count_mismatch"
        )
    marker = DumpMarker(
        dump_file=request.dump_path.name,
        sha256=written.sha256,
        payload_sha256=written.payload_sha256,
        records=written.records,
        records_by_topic={
            topic: sum(s.kept for s in states if s.topic == topic)
            for topic in sorted(request.source_topics.values())
        },
        records_by_partition={s.label: s.kept for s in states},
        offset_ranges={s.label: OffsetRange(first=s.first, last=s.last) for s in states if s.kept},
        offset_gaps={s.label: (s.end - s.start) - s.seen for s in states},
        out_of_window_skipped=skipped,
        min_timestamp_ms=bounds.min,
        max_timestamp_ms=bounds.max,
        window=TimeRange(start=request.window_start, end=request.window_end),
        session=TimeRange(start=session_start, end=session_end),
        coverage=coverage.result(),
        status="ok" if written.records else "empty_day",
        expected_records=sum(s.end - s.start for s in states),
        created_at=datetime.now(UTC),
    )
    marker.write(request.marker_path)
    return DumpResult(marker, request.dump_path, request.marker_path, reused=False)


class _Bounds:
    """Running min/max timestamp over sorted chunks."""

    def __init__(self) -> None:
        self.min: int | None = None
        self.max: int | None = None

    def add(self, chunk: list[bytes]) -> None:
        if chunk:
            lo, hi = prefix_timestamp(chunk[0]), prefix_timestamp(chunk[-1])
            self.min = lo if self.min is None else min(self.min, lo)
            self.max = hi if self.max is None else max(self.max, hi)


def _consume(
    consumer: Consumer,
    states: list[_PartitionState],
    window_ms: tuple[int, int],
    sorter: ExternalSorter,
    coverage: CoverageAccumulator,
    bounds: _Bounds,
    tuning: DumpTuning,
    progress: ProgressCallback | None,
) -> tuple[list[bytes], int]:
    """Read every partition to its end offset; returns the unspilled last chunk and the skipped count."""
    start_ms, end_ms = window_ms
    by_key = {(s.topic, s.partition): s for s in states}
    pending = [s for s in states if s.end > s.start]
    for s in states:
        if s.end <= s.start:
            s.done = True
    tracker = ProgressTracker("dump", progress, total=sum(s.end - s.start for s in states))
    if pending:
        consumer.assign([TopicPartition(s.topic, s.partition, s.start) for s in pending])
    remaining = len(pending)
    chunk: list[bytes] = []
    chunk_bytes = 0
    limit = tuning.chunk_bytes
    skipped = 0
    last_activity = time.monotonic()
    eof_code = KafkaError._PARTITION_EOF
    key_cache: dict[bytes, bytes] = {}
    while remaining:
        batch = consumer.consume(tuning.consume_batch, tuning.consume_timeout_seconds)
        if not batch:
            if time.monotonic() - last_activity > tuning.stall_timeout_seconds:
                stuck = ", ".join(s.label for s in states if not s.done)
                raise DumpError(
                    f"no progress for {tuning.stall_timeout_seconds:.0f}s; unfinished partitions: {stuck}",
                    reason="dump_stalled",
                )
            continue
        last_activity = time.monotonic()
        # Typed loosely: the stubs make every accessor Optional, which the checks below already handle.
        msg: Any
        for msg in batch:
            err = msg.error()
            state = by_key[(msg.topic(), msg.partition())]
            if err is not None:
                if err.code() == eof_code:
                    if not state.done and msg.offset() >= state.end:
                        state.done = True
                        remaining -= 1
                        consumer.pause([TopicPartition(state.topic, state.partition)])
                    continue
                if err.fatal() or not err.retriable():
                    raise DumpError(f"consuming {state.label}: {err}", reason="kafka_consume_failed")
                continue
            if state.done:
                continue
            offset = msg.offset()
            if offset >= state.end:
                state.done = True
                remaining -= 1
                consumer.pause([TopicPartition(state.topic, state.partition)])
                continue
            state.seen += 1
            ts = msg.timestamp()[1]
            state.last_ts = ts
            if start_ms <= ts < end_ms:
                key = msg.key()
                value = msg.value()
                headers = msg.headers()
                if key is not None and value is not None and not headers:
                    # Keys are symbols: a handful of distinct values, so their base64 is cached.
                    key_b64 = key_cache.get(key)
                    if key_b64 is None:
                        key_b64 = _b2a(key, newline=False)
                        if len(key_cache) < 65_536:
                            key_cache[key] = key_b64
                    line = state.encoder.sorted_fast % (
                        ts,
                        offset,
                        offset,
                        key_b64,
                        offset,
                        ts,
                        _b2a(value, newline=False),
                    )
                else:
                    line = state.encoder.encode_sorted(offset, ts, key, value, headers)
                chunk.append(line)
                chunk_bytes += len(line)
                if state.first < 0:
                    state.first = offset
                state.last = offset
                state.kept += 1
            else:
                skipped += 1
            if offset >= state.end - 1:
                state.done = True
                remaining -= 1
                consumer.pause([TopicPartition(state.topic, state.partition)])
        if chunk_bytes >= limit:
            chunk.sort()
            coverage.add_sorted_prefixed(chunk)
            bounds.add(chunk)
            sorter.spill(chunk)
            chunk = []
            chunk_bytes = 0
        if tuning.align_horizon_ms > 0:
            _align(consumer, states, tuning.align_horizon_ms)
        tracker.update(sum(s.seen for s in states))
    tracker.finish(sum(s.seen for s in states))
    chunk.sort()
    coverage.add_sorted_prefixed(chunk)
    bounds.add(chunk)
    return chunk, skipped


def _align(consumer: Consumer, states: list[_PartitionState], horizon_ms: int) -> None:
    """Pause partitions far ahead of the slowest one in event time; resume them once it caught up."""
    active = [s for s in states if not s.done]
    if len(active) < 2 or any(s.last_ts < 0 for s in active):
        # Nothing to align against (yet): a partition must never stay paused alone.
        to_pause: list[_PartitionState] = []
        to_resume = [s for s in active if s.paused]
    else:
        frontier = min(s.last_ts for s in active)
        to_pause = [s for s in active if not s.paused and s.last_ts > frontier + horizon_ms]
        to_resume = [s for s in active if s.paused and s.last_ts <= frontier + horizon_ms // 2]
    if to_pause:
        consumer.pause([TopicPartition(s.topic, s.partition) for s in to_pause])
        for s in to_pause:
            s.paused = True
    if to_resume:
        consumer.resume([TopicPartition(s.topic, s.partition) for s in to_resume])
        for s in to_resume:
            s.paused = False


def _write(
    path: Path,
    sorter: ExternalSorter,
    chunk: list[bytes],
    tuning: DumpTuning,
    progress: ProgressCallback | None,
) -> WrittenDump:
    """Stream the merged order into the dump file in blocks."""
    total = sorter.spilled_records + len(chunk)
    tracker = ProgressTracker("merge", progress, total=total)
    block_size = tuning.write_block_records
    pending: list[bytes] = []
    with DumpWriter(
        path, zstd_level=tuning.zstd_level, zstd_threads=tuning.zstd_threads, background=True
    ) as writer:
        for block in sorter.merged_blocks(chunk):
            pending.extend([line[PREFIX_LEN:] for line in block])
            if len(pending) >= block_size:
                writer.write_block(b"".join(pending), len(pending))
                pending = []
                tracker.update(writer.records)
        if pending:
            writer.write_block(b"".join(pending), len(pending))
        tracker.finish(writer.records)
        return writer.commit()
