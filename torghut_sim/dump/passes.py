"""One dump pass over the partitions: by the native engine, or in Python (here or in worker processes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer

from torghut_sim.dump.consume import (
    DumpTuning,
    PartitionState,
    consume_partitions,
)
from torghut_sim.dump.coverage import CoverageAccumulator
from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.io import DumpWriter, WrittenDump
from torghut_sim.dump.merge import (
    PREFIX_LEN,
    ExternalSorter,
    prefix_timestamp,
    timestamp_grid,
    timestamp_key,
)
from torghut_sim.dump.native import NativeDumpPlan, run_native_dump
from torghut_sim.dump.plan import dump_consumer, planned_partitions
from torghut_sim.dump.request import DumpRequest
from torghut_sim.dump.worker import (
    consume_in_workers,
)
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import engine_errors_as, use_native
from torghut_sim.kafka.progress import ProgressCallback, ProgressTracker


class Bounds:
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
class DumpPass:
    """What one pass over the partitions produced."""

    states: list[PartitionState]
    written: WrittenDump
    coverage: CoverageAccumulator
    bounds: Bounds
    skipped: int
    streamed: bool


class _Output:
    """Accounts merged blocks (coverage, bounds) and writes them without their sort prefixes."""

    def __init__(
        self, writer: DumpWriter, coverage: CoverageAccumulator, bounds: Bounds, block_bytes: int
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


def dump_engine(tuning: DumpTuning) -> Path | None:
    """The native engine binary the dump runs with, None for the Python engine."""
    with engine_errors_as(DumpError):
        return use_native(tuning.engine)


def native_pass(
    engine: Path,
    connection: KafkaConnection,
    request: DumpRequest,
    tuning: DumpTuning,
    progress: ProgressCallback | None,
    window_ms: tuple[int, int],
    session_ms: tuple[int, int],
) -> DumpPass:
    """Plan here, then let the native engine read, order, hash and write the records."""
    consumer = dump_consumer(connection, tuning)
    try:
        states = planned_partitions(consumer, connection, request, window_ms, tuning.metadata_timeout_seconds)
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
    bounds = Bounds()
    bounds.min, bounds.max = done.min_timestamp_ms, done.max_timestamp_ms
    return DumpPass(done.states, done.written, done.coverage, bounds, done.skipped, done.streamed)


def python_pass(
    connection: KafkaConnection,
    request: DumpRequest,
    tuning: DumpTuning,
    progress: ProgressCallback | None,
    window_ms: tuple[int, int],
    session_ms: tuple[int, int],
    streaming: bool,
) -> DumpPass:
    """Read every partition once and write the ordered file (while reading when `streaming`)."""
    start_ms, end_ms = window_ms
    consumer = dump_consumer(connection, tuning)
    coverage = CoverageAccumulator(*session_ms)
    bounds = Bounds()
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
            states = planned_partitions(
                consumer, connection, request, window_ms, tuning.metadata_timeout_seconds
            )
            if tuning.workers > 1 and sum(1 for s in states if s.end > s.start) > 1:
                consumer.close()
                open_consumer = None
                states, skipped = consume_in_workers(connection, tuning, states, window_ms, sorter, progress)
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
    return DumpPass(states, written, coverage, bounds, skipped, streaming)
