"""Dump the source topics of one window from Kafka into one ordered, hashed file plus its marker.

Per partition: seek with `offsets_for_times(window start)`, stop at `offsets_for_times(window end)`
clamped to the high watermark, read group-less (`assign`, no commits) and keep exactly the records with
start <= timestamp < end. Timestamps are not monotonic within a partition, so every record is filtered
on its own and the file is globally ordered by an external merge. An existing dump is reused only when
its marker and its bytes agree; a disagreeing one is refused, never silently replaced (unless forced).

The records themselves are read, ordered, hashed and written by the native engine when it is built
(`DumpTuning.engine`, see `torghut_sim/dump/native.py`), else by the Python engine here; both write the
same bytes, and the plan and the marker are made here either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import zstandard
from confluent_kafka import Consumer, KafkaException, TopicPartition

from torghut_sim.dump.consume import (
    DumpTuning,
    OrderViolationError,
    PartitionState,
    consume_partitions,
    dump_consumer_config,
)
from torghut_sim.dump.coverage import CoverageAccumulator
from torghut_sim.dump.errors import DumpError, DumpHashMismatchError
from torghut_sim.dump.io import DumpWriter, WrittenDump, file_sha256, payload_sha256
from torghut_sim.dump.marker import DumpMarker, DumpMarkerInvalidError, OffsetRange, TimeRange
from torghut_sim.dump.merge import (
    PREFIX_LEN,
    ExternalSorter,
    partition_prefix,
    prefix_timestamp,
    timestamp_grid,
    timestamp_key,
)
from torghut_sim.dump.native import NativeDumpPlan, run_native_dump
from torghut_sim.dump.record import PartitionLineEncoder
from torghut_sim.dump.worker import WorkerJob, WorkerResult, run_worker, spawn_context, split_partitions
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import EngineError, use_native
from torghut_sim.kafka.progress import ProgressCallback, ProgressTracker
from torghut_sim.topics import DUMPED_ROLES, ROLES_BY_NAME, simulation_topic

__all__ = [
    "DEFAULT_SOURCE_TOPICS",
    "DumpRequest",
    "DumpResult",
    "DumpTuning",
    "dump_consumer_config",
    "dump_source",
    "verify_dump",
]

# The production source topic of every dumped role; tests and benchmarks inject their own names.
DEFAULT_SOURCE_TOPICS: Mapping[str, str] = {r.role: r.source for r in DUMPED_ROLES}


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
    # Whether the file was written while consuming (see `DumpTuning.order_horizon_ms`).
    streamed: bool = False


def _utc_ms(moment: datetime, what: str) -> int:
    if moment.tzinfo is None:
        raise DumpError(f"{what} must be timezone-aware (UTC)", reason="dump_window_invalid")
    return int(moment.timestamp() * 1000)


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
) -> list[PartitionState]:
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
    states: list[PartitionState] = []
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
        states.append(PartitionState(tp.topic, tp.partition, start, end, encoder))
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
    window_ms = (start_ms, end_ms)
    session_ms = (_utc_ms(session_start, "session start"), _utc_ms(session_end, "session end"))
    streaming = tuning.order_horizon_ms > 0
    engine = _engine(tuning)
    if engine is not None:
        done = _native_pass(engine, connection, request, tuning, progress, window_ms, session_ms)
    else:
        try:
            done = _dump_pass(connection, request, tuning, progress, window_ms, session_ms, streaming)
        except OrderViolationError:
            # A record arrived later than the horizon allowed: redo the dump with the full external sort.
            done = _dump_pass(connection, request, tuning, progress, window_ms, session_ms, streaming=False)
    states, written, coverage, bounds, skipped = (
        done.states,
        done.written,
        done.coverage,
        done.bounds,
        done.skipped,
    )
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
    return DumpResult(marker, request.dump_path, request.marker_path, reused=False, streamed=done.streamed)


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


@dataclass
class _Pass:
    """What one pass over the partitions produced."""

    states: list[PartitionState]
    written: WrittenDump
    coverage: CoverageAccumulator
    bounds: _Bounds
    skipped: int
    streamed: bool


class _Output:
    """Accounts merged blocks (coverage, bounds) and writes them without their sort prefixes."""

    def __init__(
        self, writer: DumpWriter, coverage: CoverageAccumulator, bounds: _Bounds, block_bytes: int
    ) -> None:
        self.writer = writer
        self.coverage = coverage
        self.bounds = bounds
        # Lines are ~0.5-1 KB: slices of this many keep each written block near `block_bytes`.
        self.step = max(block_bytes // 1024, 1024)

    def write(self, block: list[bytes]) -> None:
        self.coverage.add_sorted_prefixed(block)
        self.bounds.add(block)
        step = self.step
        for lo in range(0, len(block), step):
            stripped = [line[PREFIX_LEN:] for line in block[lo : lo + step]]
            count = len(stripped)
            stripped.append(b"")  # the join then ends with the last line's newline
            self.writer.write_block(b"\n".join(stripped), count)


def _engine(tuning: DumpTuning) -> Path | None:
    """The native engine binary the dump runs with, None for the Python engine."""
    try:
        return use_native(tuning.engine)
    except EngineError as exc:
        raise DumpError(exc.message, reason=exc.reason) from None


def _consumer(connection: KafkaConnection, tuning: DumpTuning) -> Consumer:
    try:
        return Consumer(dump_consumer_config(connection, tuning))
    except KafkaException as exc:
        raise DumpError(f"cannot create a consumer: {exc}", reason="kafka_connection_invalid") from None


def _planned(
    consumer: Consumer,
    connection: KafkaConnection,
    request: DumpRequest,
    window_ms: tuple[int, int],
    timeout: float,
) -> list[PartitionState]:
    """`_plan_partitions`, an unanswered query reported as an unreachable broker."""
    try:
        return _plan_partitions(consumer, request, window_ms[0], window_ms[1], timeout)
    except KafkaException as exc:
        raise DumpError(
            f"Kafka at {connection.describe()} did not answer: {exc}", reason="broker_unreachable"
        ) from None


def _native_pass(
    engine: Path,
    connection: KafkaConnection,
    request: DumpRequest,
    tuning: DumpTuning,
    progress: ProgressCallback | None,
    window_ms: tuple[int, int],
    session_ms: tuple[int, int],
) -> _Pass:
    """Plan here, then let the native engine read, order, hash and write the records."""
    consumer = _consumer(connection, tuning)
    try:
        states = _planned(consumer, connection, request, window_ms, tuning.metadata_timeout_seconds)
    finally:
        consumer.close()
    plan = NativeDumpPlan(
        dump_path=request.dump_path,
        spill_dir=request.spill_dir or request.dump_path.parent,
        window_ms=window_ms,
        session_ms=session_ms,
        replay_topics={topic: request.replay_topic(role) for role, topic in request.source_topics.items()},
    )
    done = run_native_dump(engine, connection, plan, states, tuning, progress)
    bounds = _Bounds()
    bounds.min, bounds.max = done.min_timestamp_ms, done.max_timestamp_ms
    return _Pass(done.states, done.written, done.coverage, bounds, done.skipped, done.streamed)


def _dump_pass(
    connection: KafkaConnection,
    request: DumpRequest,
    tuning: DumpTuning,
    progress: ProgressCallback | None,
    window_ms: tuple[int, int],
    session_ms: tuple[int, int],
    streaming: bool,
) -> _Pass:
    """Read every partition once and write the ordered file (while reading when `streaming`)."""
    start_ms, end_ms = window_ms
    consumer = _consumer(connection, tuning)
    coverage = CoverageAccumulator(*session_ms)
    bounds = _Bounds()
    grid = timestamp_grid(start_ms, end_ms, tuning.grid_cells)
    with (
        ExternalSorter(
            request.spill_dir or request.dump_path.parent,
            [timestamp_key(ts) for ts in grid],
            group_bytes=tuning.merge_group_bytes,
        ) as sorter,
        DumpWriter(
            request.dump_path, zstd_level=tuning.zstd_level, zstd_threads=tuning.zstd_threads, background=True
        ) as writer,
    ):
        output = _Output(writer, coverage, bounds, tuning.merge_group_bytes)
        open_consumer: Consumer | None = consumer
        try:
            states = _planned(consumer, connection, request, window_ms, tuning.metadata_timeout_seconds)
            if tuning.workers > 1 and sum(1 for s in states if s.end > s.start) > 1:
                consumer.close()
                open_consumer = None
                states, skipped = _consume_in_workers(connection, tuning, states, window_ms, sorter, progress)
                chunk: list[bytes] = []
                streaming = False
            else:
                chunk, skipped = consume_partitions(
                    consumer, states, window_ms, sorter, output, grid if streaming else None, tuning, progress
                )
        finally:
            # Closed before the final merge: the client's fetch buffers are not needed any more.
            if open_consumer is not None:
                open_consumer.close()
        kept = sum(s.kept for s in states)
        tracker = ProgressTracker("merge", progress, total=kept)
        for block in sorter.merged_blocks(chunk):
            output.write(block)
            tracker.update(writer.records)
        tracker.finish(writer.records)
        written = writer.commit()
    return _Pass(states, written, coverage, bounds, skipped, streaming)


def _consume_in_workers(
    connection: KafkaConnection,
    tuning: DumpTuning,
    states: list[PartitionState],
    window_ms: tuple[int, int],
    sorter: ExternalSorter,
    progress: ProgressCallback | None,
) -> tuple[list[PartitionState], int]:
    """Read the partitions in worker processes whose runs `sorter` adopts; their counters and skips."""
    groups = split_partitions(states, tuning.workers)
    context = spawn_context()
    # The memory budget of the chunk and the batch is shared by the workers.
    worker_tuning = replace(
        tuning,
        chunk_bytes=max(tuning.chunk_bytes // len(groups), 1),
        consume_batch=max(tuning.consume_batch // len(groups), 1),
    )
    tracker = ProgressTracker("dump", progress, total=sum(s.end - s.start for s in states))
    workers: list[tuple[BaseProcess, Connection, Synchronized[int]]] = []
    results: dict[int, WorkerResult] = {}
    failed = True
    try:
        for index, group in enumerate(groups):
            receiver, sender = context.Pipe(duplex=False)
            seen = context.Value("q", 0)
            job = WorkerJob(
                connection, worker_tuning, group, window_ms, sorter.directory, f"w{index}", sorter.boundaries
            )
            process = context.Process(
                target=run_worker, args=(job, sender, seen), name=f"dump-worker-{index}", daemon=True
            )
            process.start()
            sender.close()
            workers.append((process, receiver, seen))
        while len(results) < len(workers):
            waiting = {id(w[1]): i for i, w in enumerate(workers) if i not in results}
            for ready in wait([workers[i][1] for i in waiting.values()], timeout=0.5):
                index = waiting[id(ready)]
                try:
                    result: WorkerResult = workers[index][1].recv()
                except EOFError:
                    workers[index][0].join(5)
                    code = workers[index][0].exitcode
                    message = f"dump worker {index} died (exit code {code})"
                    result = WorkerResult(error=(message, "dump_worker_failed"))
                if result.error is not None:
                    raise DumpError(*result.error)
                results[index] = result
            tracker.update(sum(int(w[2].value) for w in workers))
        failed = False
    finally:
        for worker, receiver, _seen in workers:
            if failed and worker.is_alive():
                worker.terminate()
            worker.join(10)
            receiver.close()
    for result in results.values():
        sorter.adopt(result.runs, result.records)
    order = {s.label: i for i, s in enumerate(states)}
    done = sorted((s for r in results.values() for s in r.states), key=lambda s: order[s.label])
    tracker.finish(sum(s.seen for s in done))
    return done, sum(r.skipped for r in results.values())
