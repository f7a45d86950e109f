"""Reading source partitions into sort-prefixed lines: the consumer settings and the hot loop.

Shared by the in-process dump and its worker processes, so it imports nothing heavier than the Kafka
client (a worker process starts faster without the marker's pydantic models).
"""

from __future__ import annotations

import bisect
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, TopicPartition
from pybase64 import b64encode

from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.merge import ExternalSorter, timestamp_key
from torghut_sim.dump.record import PartitionLineEncoder
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import EngineChoice
from torghut_sim.kafka.progress import ProgressCallback, ProgressTracker


@dataclass(frozen=True)
class DumpTuning:
    """Throughput and memory knobs of the dump; with the defaults a day peaks at ~450 MB of RSS."""

    consume_batch: int = 20_000
    consume_timeout_seconds: float = 0.5
    # Bytes of prefixed lines held before a sorted run is spilled to disk (Python engine).
    chunk_bytes: int = 64 * 1024 * 1024
    # Timestamp grid of the merge (cells over the window) and the bytes merged in memory at once.
    grid_cells: int = 8192
    merge_group_bytes: int = 16 * 1024 * 1024
    stall_timeout_seconds: float = 60.0
    metadata_timeout_seconds: float = 15.0
    # Level 1 compresses ~1.5x faster than 3 for a ~20 % larger file. Hashing and compression run in
    # the writer thread (outside the GIL), so zstd needs no threads of its own (Python engine).
    zstd_level: int = 1
    zstd_threads: int = 0
    # Python engine only: processes reading the partitions (split by expected records) and spilling
    # sorted runs, which this process then merges, so consumption and line building can use more than
    # one core. On the 2-core benchmark host, already busy, 2 workers cost ~1.9x the CPU of 1 (every
    # record spilled and read back, two interpreters) for no gain (benchmarks/kafka_bench.py
    # --dump-workers). 1 reads in this process and writes while reading (`order_horizon_ms`).
    workers: int = 1
    # Write the file while consuming, betting that no record arrives more than this far (in event
    # time) behind the latest record of its partition. A record that does arrive below the part
    # already written voids the bet, and the dump restarts with a full external sort, so the bet only
    # ever costs time, never order. 0 always uses the external sort.
    order_horizon_ms: int = 120_000
    consumer_overrides: Mapping[str, Any] = field(default_factory=dict)
    # Who reads and writes the records: the native engine (native/kafka-engine) when it is built
    # (`auto`), always (`native`) or never (`python`). Python plans the offsets and writes the marker
    # either way.
    engine: EngineChoice = "auto"
    # Bytes of lines the native engine holds before it spills a sorted run. While it writes as it
    # reads, it holds about (horizon + read-ahead + one fetch) of event time: ~60 MB for a day of 10 M
    # records; with this budget such a day never spills and the engine peaks near 300 MB.
    native_chunk_bytes: int = 128 * 1024 * 1024
    # Go runtime memory limit of the native engine: it collects harder before the heap grows past it.
    native_memory_limit_bytes: int = 384 * 1024 * 1024
    # While writing as it reads, the native engine pauses partitions that have read further than this
    # (event time) beyond the slowest one: the broker serves bytes, not time, and every line between
    # the slowest and the fastest partition waits in memory.
    native_read_ahead_ms: int = 60_000


@dataclass(slots=True)
class PartitionState:
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

    @property
    def label(self) -> str:
        return f"{self.topic}:{self.partition}"


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
            # Fetches large enough to keep the prefetch queue full, small enough to bound the memory
            # (one response in flight plus the queue: ~32 MB).
            "fetch.max.bytes": 16 * 1024 * 1024,
            "max.partition.fetch.bytes": 2 * 1024 * 1024,
            "queued.max.messages.kbytes": 16_384,
            # The default (1 s) idles a partition for a whole second every time the application drains
            # the queue more slowly than the broker fills it, which is always the case here: it capped
            # the raw read rate at ~120k records/s on the local broker.
            "fetch.queue.backoff.ms": 5,
            "check.crcs": False,
        }
    )
    config.update(tuning.consumer_overrides)
    return config


class OrderViolationError(Exception):
    """A record arrived below the part of the file already written: the streamed order is void."""


class BlockSink(Protocol):
    """Where merged, sorted blocks of prefixed lines go."""

    def write(self, block: list[bytes]) -> None: ...


def consume_partitions(
    consumer: Consumer,
    states: list[PartitionState],
    window_ms: tuple[int, int],
    sorter: ExternalSorter,
    output: BlockSink | None,
    grid: list[int] | None,
    tuning: DumpTuning,
    progress: ProgressCallback | None,
) -> tuple[list[bytes], int]:
    """Read every partition to its end offset; returns the lines still in memory and the skipped count.

    With a `grid` (streaming), every grid cell that lies entirely below the horizon of every unfinished
    partition is merged and written as soon as the batch that passed it is in.
    """
    reader = _PartitionReader(consumer, states, window_ms, sorter, tuning)
    tracker = ProgressTracker("dump", progress, total=sum(s.end - s.start for s in states))
    last_activity = time.monotonic()
    while reader.remaining:
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
        mark = len(reader.chunk)
        reader.take(batch)
        reader.settle(mark, grid, output)
        tracker.update(sum(s.seen for s in states))
    tracker.finish(sum(s.seen for s in states))
    return reader.chunk, reader.skipped


class _PartitionReader:
    """The state of one consumption: the lines in memory, the frontier already written, the counts."""

    def __init__(
        self,
        consumer: Consumer,
        states: list[PartitionState],
        window_ms: tuple[int, int],
        sorter: ExternalSorter,
        tuning: DumpTuning,
    ) -> None:
        self.consumer = consumer
        self.states = states
        self.start_ms, self.end_ms = window_ms
        self.sorter = sorter
        self.limit = tuning.chunk_bytes
        self.horizon = tuning.order_horizon_ms
        # Nested by topic, then partition: no tuple is built per record to find its partition.
        self.by_topic: dict[str, dict[int, PartitionState]] = {}
        for s in states:
            self.by_topic.setdefault(s.topic, {})[s.partition] = s
        pending = [s for s in states if s.end > s.start]
        for s in states:
            if s.end <= s.start:
                s.done = True
        if pending:
            consumer.assign([TopicPartition(s.topic, s.partition, s.start) for s in pending])
        self.remaining = len(pending)
        self.chunk: list[bytes] = []
        self.chunk_bytes = 0
        # Records below `frontier_ms` belong to cells already written; one arriving now voids the stream.
        self.frontier_ms = self.start_ms
        self.skipped = 0
        self.key_cache: dict[bytes, bytes] = {}

    def finish(self, state: PartitionState) -> None:
        """A partition reached its end offset: stop fetching it."""
        state.done = True
        self.remaining -= 1
        self.consumer.pause([TopicPartition(state.topic, state.partition)])

    def error(self, msg: Any, err: KafkaError) -> None:
        """An end-of-partition event finishes its partition; a fatal error ends the dump."""
        state = self.by_topic.get(msg.topic() or "", {}).get(msg.partition())
        if err.code() == KafkaError._PARTITION_EOF:
            if state is not None and not state.done and msg.offset() >= state.end:
                self.finish(state)
            return
        if err.fatal() or not err.retriable():
            where = state.label if state is not None else _connection_label(msg)
            raise DumpError(f"consuming {where}: {err}", reason="kafka_consume_failed")

    def encode_key(self, key: bytes) -> bytes:
        """A key's base64, cached while the cache is small (keys are symbols: a handful of values)."""
        encoded = b64encode(key)
        if len(self.key_cache) < 65_536:
            self.key_cache[key] = encoded
        return encoded

    def take(self, batch: list[Any]) -> None:
        """Turn one batch into sort-prefixed lines (the hot loop: locals, no calls on the common path)."""
        start_ms, end_ms, frontier_ms = self.start_ms, self.end_ms, self.frontier_ms
        by_topic, key_cache, append = self.by_topic, self.key_cache, self.chunk.append
        b64 = b64encode
        for msg in batch:
            err = msg.error()
            if err is not None:
                self.error(msg, err)
                continue
            state = by_topic[msg.topic()][msg.partition()]
            offset = msg.offset()
            if state.done or offset >= state.end:
                if not state.done:
                    self.finish(state)
                continue
            state.seen += 1
            ts = msg.timestamp()[1]
            state.last_ts = ts
            if frontier_ms <= ts < end_ms:
                key = msg.key()
                value = msg.value()
                if key is not None and value is not None and not msg.headers():
                    key_b64 = key_cache.get(key) or self.encode_key(key)
                    append(state.encoder.sorted_fast % (ts, offset, offset, key_b64, offset, ts, b64(value)))
                else:
                    append(state.encoder.encode_sorted(offset, ts, key, value, msg.headers()))
                if state.first < 0:
                    state.first = offset
                state.last = offset
                state.kept += 1
            elif start_ms <= ts < end_ms:
                raise OrderViolationError(f"{state.label}@{offset}: {ts} < {frontier_ms}")
            else:
                self.skipped += 1
            if offset >= state.end - 1:
                self.finish(state)

    def settle(self, mark: int, grid: list[int] | None, output: BlockSink | None) -> None:
        """After a batch: write the cells every partition has passed, spill when memory is full."""
        chunk = self.chunk
        if grid is not None and output is not None and self.remaining:
            passed = _emit_passed_cells(
                self.states, grid, self.horizon, self.frontier_ms, chunk, self.sorter, output
            )
            if passed != self.frontier_ms:
                # The chunk was sorted and cut: its size is counted afresh.
                self.frontier_ms = passed
                mark = 0
                self.chunk_bytes = 0
        # Sizes are summed per batch in C rather than per record in Python.
        self.chunk_bytes += sum(map(len, chunk[mark:]))
        if self.chunk_bytes >= self.limit:
            self.sorter.spill(chunk)
            chunk.clear()
            self.chunk_bytes = 0


def _emit_passed_cells(
    states: list[PartitionState],
    grid: list[int],
    horizon_ms: int,
    frontier_ms: int,
    chunk: list[bytes],
    sorter: ExternalSorter,
    output: BlockSink,
) -> int:
    """Write the cells every unfinished partition has left behind by the horizon; the new frontier."""
    # A partition that has delivered nothing yet has last_ts -1 and holds everything back.
    safe_ms = min(s.last_ts for s in states if not s.done) - horizon_ms
    end_cell = bisect.bisect_right(grid, safe_ms)
    if end_cell <= sorter.next_cell:
        return frontier_ms
    frontier_ms = grid[end_cell - 1]
    chunk.sort()
    cut = bisect.bisect_left(chunk, timestamp_key(frontier_ms))
    passed = chunk[:cut]
    del chunk[:cut]
    for block in sorter.merge_cells(end_cell, passed):
        output.write(block)
    return frontier_ms


def _connection_label(msg: Any) -> str:
    """Where a consumer error came from, for the error message."""
    topic = msg.topic()
    return f"{topic}:{msg.partition()}" if topic else "the cluster"
