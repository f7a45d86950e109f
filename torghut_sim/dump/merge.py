"""Bounded-memory global ordering of dump lines by (timestamp, topic, partition, offset).

Records arrive per partition in offset order, but timestamps within a partition are not monotonic, so
nothing can be assumed sorted. Lines carry a fixed-width decimal sort prefix whose byte order equals
the tuple order; buffered chunks are sorted and spilled to temporary run files, and a k-way heap merge
of the runs (plus the last chunk, kept in memory) streams the global order back. Because the prefix is
unique per record, comparing whole prefixed lines as bytes is exact and runs at C speed; the merge moves
lines in slices rather than one by one because runs of one dump barely overlap.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

TS_WIDTH = 16
TOPIC_WIDTH = 4
PARTITION_WIDTH = 6
OFFSET_WIDTH = 19
PREFIX_LEN = TS_WIDTH + TOPIC_WIDTH + PARTITION_WIDTH + OFFSET_WIDTH
_RUN_BUFFER = 1 << 20


def sort_prefix(timestamp_ms: int, topic_rank: int, partition: int, offset: int) -> bytes:
    """The fixed-width prefix ordering a line; `topic_rank` is the topic's index in sorted topic names."""
    return b"%016d%04d%06d%019d" % (timestamp_ms, topic_rank, partition, offset)


def partition_prefix(topic_rank: int, partition: int) -> bytes:
    """The constant middle of the prefix for one partition (timestamp before it, offset after it)."""
    return b"%04d%06d" % (topic_rank, partition)


def prefix_timestamp(prefixed_line: bytes) -> int:
    """The timestamp encoded in a prefixed line."""
    return int(prefixed_line[:TS_WIDTH])


def timestamp_key(timestamp_ms: int) -> bytes:
    """A prefix that sorts before every line of `timestamp_ms` and after every earlier one."""
    return b"%016d" % timestamp_ms


class ExternalSorter:
    """Collects sorted runs of prefixed lines on disk and merges them back in global order.

    Lines are prefixed (`sort_prefix`) and end with a newline, so runs are written and read back with
    no copying or splitting in Python.
    """

    def __init__(self, spill_dir: Path, merge_buffer_bytes: int = 64 * 1024 * 1024) -> None:
        spill_dir.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="dump-runs-", dir=spill_dir)
        self._dir = Path(self._tmp.name)
        self._runs: list[Path] = []
        self.merge_buffer_bytes = merge_buffer_bytes
        self.spilled_records = 0

    @property
    def run_count(self) -> int:
        """Runs spilled to disk so far."""
        return len(self._runs)

    def spill(self, chunk: list[bytes]) -> None:
        """Sort a chunk of prefixed, newline-terminated lines (in place) and write it as one run file."""
        if not chunk:
            return
        chunk.sort()
        path = self._dir / f"run-{len(self._runs):05d}"
        with path.open("wb", buffering=_RUN_BUFFER) as handle:
            handle.writelines(chunk)
        self._runs.append(path)
        self.spilled_records += len(chunk)

    def merged_blocks(self, last_chunk: list[bytes]) -> Iterator[list[bytes]]:
        """Prefixed lines in global order, as consecutive blocks; `last_chunk` is merged from memory."""
        last_chunk.sort()
        if not self._runs:
            if last_chunk:
                yield last_chunk
            return
        hint = max(self.merge_buffer_bytes // (len(self._runs) + 1), 256 * 1024)
        with contextlib.ExitStack() as stack:
            sources: list[Iterator[list[bytes]]] = [
                _read_blocks(stack.enter_context(path.open("rb", buffering=_RUN_BUFFER)), hint)
                for path in self._runs
            ]
            sources.append(iter([last_chunk]))
            yield from gallop_merge(sources)

    def merged(self, last_chunk: list[bytes]) -> Iterator[bytes]:
        """Every line in global order with its sort prefix cut off (newline kept)."""
        for block in self.merged_blocks(last_chunk):
            for line in block:
                yield line[PREFIX_LEN:]

    def close(self) -> None:
        """Remove every run file."""
        self._tmp.cleanup()

    def __enter__(self) -> ExternalSorter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _read_blocks(handle: IO[bytes], hint: int) -> Iterator[list[bytes]]:
    while block := handle.readlines(hint):
        yield block


def gallop_merge(sources: list[Iterator[list[bytes]]]) -> Iterator[list[bytes]]:
    """K-way merge of sorted, unique lines given as blocks; yields slices of consecutive output.

    Instead of one heap step per line, the run with the smallest head gives up, in one slice, every line
    below the next-smallest head (found by binary search). Runs of a dump overlap only at their edges,
    so almost all lines move in large slices; fully interleaved runs degrade to a per-line merge.
    """
    blocks: list[list[bytes]] = []
    positions: list[int] = []
    heap: list[tuple[bytes, int]] = []
    for source in sources:
        block = next(source, None)
        while block is not None and not block:
            block = next(source, None)
        if block:
            heap.append((block[0], len(blocks)))
        blocks.append(block or [])
        positions.append(0)
    heapq.heapify(heap)
    while heap:
        index = heap[0][1]
        block = blocks[index]
        pos = positions[index]
        size = len(heap)
        if size == 1:
            end = len(block)
        else:
            # In a binary heap the second-smallest head is one of the root's two children.
            bound = heap[1][0] if size == 2 or heap[1][0] < heap[2][0] else heap[2][0]
            end = bisect.bisect_left(block, bound, pos)
        yield block if pos == 0 and end == len(block) else block[pos:end]
        if end < len(block):
            positions[index] = end
            heapq.heapreplace(heap, (block[end], index))
            continue
        following = next(sources[index], None)
        while following is not None and not following:
            following = next(sources[index], None)
        if following:
            blocks[index] = following
            positions[index] = 0
            heapq.heapreplace(heap, (following[0], index))
        else:
            blocks[index] = []
            heapq.heappop(heap)
