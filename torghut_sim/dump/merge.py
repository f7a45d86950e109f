"""Bounded-memory global ordering of dump lines by (timestamp, topic, partition, offset).

Records arrive per partition in offset order, but timestamps within a partition are not monotonic, so
nothing can be assumed sorted. Lines carry a fixed-width decimal sort prefix whose byte order equals
the tuple order, so sorting them as bytes is exact and runs at C speed. Buffered chunks are sorted and
spilled to run files together with the byte offset of every cell of a timestamp grid.

The merge works range by range instead of line by line: consecutive grid cells are grouped up to a
byte budget, each run's bytes for the group are read in one call (runs are read front to back), and the
concatenated sorted pieces are sorted again. Timsort recognises the pieces as sorted runs and merges them
in C, so no Python code runs per line. A single cell over the budget (a burst within one grid step) is
merged by a streaming heap merge instead, so memory stays bounded whatever the data.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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


def timestamp_grid(start_ms: int, end_ms: int, cells: int) -> list[int]:
    """Boundary timestamps cutting [start, end) into at most `cells` equal steps (at least 1 ms each)."""
    step = max(-(-(end_ms - start_ms) // max(cells, 1)), 1)
    return list(range(start_ms + step, end_ms, step))


@dataclass(frozen=True)
class RunFile:
    """A spilled run as plain, picklable data: its path and its cell offsets (`array('q')` bytes)."""

    path: str
    offsets: bytes


@dataclass
class _Run:
    """One spilled run: its file, read handle and the byte offset where each grid cell starts."""

    path: Path
    offsets: array[int]
    handle: IO[bytes]


def _cell_bounds(lines: Sequence[bytes], boundaries: Sequence[bytes], first: int, end: int) -> list[int]:
    """Index in a sorted list of the first line of each cell in [first, end), and of the end cell."""
    bounds = [0]
    pos = 0
    for key in boundaries[first : end - 1]:
        pos = bisect.bisect_left(lines, key, pos)
        bounds.append(pos)
    bounds.append(len(lines))
    return bounds


class ExternalSorter:
    """Sorted runs of prefixed lines on disk, merged back in global order cell range by cell range.

    Lines are prefixed (`sort_prefix`) and carry no newline; runs store them newline-terminated.
    `boundaries` (sorted keys, e.g. of `timestamp_grid`) cut the key space into cells; without them the
    whole key space is one cell and the merge streams. Cells are merged in order, either all at the end
    (`merged_blocks`) or progressively (`merge_cells`) by a caller that knows no line below a cell's
    end will arrive any more.
    """

    def __init__(
        self,
        spill_dir: Path,
        boundaries: Sequence[bytes] = (),
        group_bytes: int = 24 * 1024 * 1024,
        merge_buffer_bytes: int = 64 * 1024 * 1024,
        *,
        run_prefix: str = "run",
        shared_dir: bool = False,
    ) -> None:
        spill_dir.mkdir(parents=True, exist_ok=True)
        # A shared directory belongs to another sorter (a worker's runs are adopted by the merging one).
        self._tmp = None if shared_dir else tempfile.TemporaryDirectory(prefix="dump-runs-", dir=spill_dir)
        self.directory = spill_dir if self._tmp is None else Path(self._tmp.name)
        self.run_prefix = run_prefix
        self._runs: list[_Run] = []
        self.boundaries = list(boundaries)
        self.cells = len(self.boundaries) + 1
        self.next_cell = 0
        self.group_bytes = group_bytes
        self.merge_buffer_bytes = merge_buffer_bytes
        self.spilled_records = 0

    @property
    def run_count(self) -> int:
        """Runs spilled to disk so far."""
        return len(self._runs)

    def spill(self, chunk: list[bytes]) -> None:
        """Sort a chunk of prefixed lines (in place) and write it as one run file with its cell offsets.

        Every line must belong to a cell not merged yet.
        """
        if not chunk:
            return
        chunk.sort()
        if self.next_cell and chunk[0] < self.boundaries[self.next_cell - 1]:
            raise ValueError("a spilled line belongs to a cell that was already merged")
        path = self.directory / f"{self.run_prefix}-{len(self._runs):05d}"
        bounds = _cell_bounds(chunk, self.boundaries, 0, self.cells)
        offsets = array("q", [0])
        position = 0
        with path.open("wb", buffering=_RUN_BUFFER) as handle:
            for lo, hi in itertools.pairwise(bounds):
                if hi > lo:
                    # Cell by cell, so no second copy of the whole chunk is ever built.
                    position += handle.write(b"\n".join(chunk[lo:hi])) + handle.write(b"\n")
                offsets.append(position)
        self._runs.append(_Run(path, offsets, path.open("rb", buffering=0)))
        self.spilled_records += len(chunk)

    def export(self) -> list[RunFile]:
        """The runs as plain data for another sorter to `adopt` (e.g. across processes)."""
        return [RunFile(str(run.path), run.offsets.tobytes()) for run in self._runs]

    def adopt(self, runs: Sequence[RunFile], records: int) -> None:
        """Merge runs spilled by another sorter over the same boundaries (and `records` lines) as well."""
        for run in runs:
            offsets = array("q")
            offsets.frombytes(run.offsets)
            if len(offsets) != self.cells + 1:
                raise ValueError(f"{run.path} was cut on another grid")
            handle = Path(run.path).open("rb", buffering=0)  # noqa: SIM115 - closed by close()
            self._runs.append(_Run(Path(run.path), offsets, handle))
        self.spilled_records += records

    def merged_blocks(self, last_chunk: list[bytes]) -> Iterator[list[bytes]]:
        """The lines of every cell not merged yet in global order, as consecutive sorted blocks.

        `last_chunk` holds the lines still in memory; it is sorted in place and merged from memory.
        """
        last_chunk.sort()
        if not self._runs:
            self.next_cell = self.cells
            if last_chunk:
                yield last_chunk
            return
        yield from self.merge_cells(self.cells, last_chunk)

    def merge_cells(self, end: int, memory: list[bytes]) -> Iterator[list[bytes]]:
        """Cells [next_cell, end) in global order as sorted blocks of at most ~`group_bytes`.

        `memory` is the sorted in-memory share of exactly those cells; the runs supply the rest.
        """
        first_cell = self.next_cell
        mem_bounds = _cell_bounds(memory, self.boundaries, first_cell, end)
        # Bytes per cell over every run and memory (+1 per line for the newline a run stores).
        sizes = [
            sum(run.offsets[c + 1] - run.offsets[c] for run in self._runs)
            + sum(map(len, memory[mem_bounds[i] : mem_bounds[i + 1]]))
            + mem_bounds[i + 1]
            - mem_bounds[i]
            for i, c in enumerate(range(first_cell, end))
        ]
        first = first_cell
        while first < end:
            last = first
            total = sizes[first - first_cell]
            while last + 1 < end and total + sizes[last + 1 - first_cell] <= self.group_bytes:
                last += 1
                total += sizes[last - first_cell]
            in_memory = memory[mem_bounds[first - first_cell] : mem_bounds[last + 1 - first_cell]]
            if total <= self.group_bytes:
                block = self._group(first, last + 1, in_memory)
                if block:
                    yield block
            else:
                yield from self._stream_cell(first, in_memory)
            first = last + 1
            self.next_cell = first

    def _group(self, first: int, end: int, memory: list[bytes]) -> list[bytes]:
        """Cells [first, end) of every run plus the memory slice, merged by one C sort."""
        lines: list[bytes] = []
        for run in self._runs:
            size = run.offsets[end] - run.offsets[first]
            if size:
                lines += _read_exact(run.handle, size).split(b"\n")
                lines.pop()
        lines += memory
        lines.sort()
        return lines

    def _stream_cell(self, cell: int, memory: list[bytes]) -> Iterator[list[bytes]]:
        """One oversized cell, merged from bounded reads of every run."""
        hint = max(self.merge_buffer_bytes // (len(self._runs) + 1), 256 * 1024)
        sources = [
            _range_blocks(run.handle, run.offsets[cell + 1] - run.offsets[cell], hint) for run in self._runs
        ]
        sources.append(iter([memory]))
        yield from gallop_merge(sources)

    def merged(self, last_chunk: list[bytes]) -> Iterator[bytes]:
        """Every line in global order with its sort prefix cut off."""
        for block in self.merged_blocks(last_chunk):
            for line in block:
                yield line[PREFIX_LEN:]

    def close(self) -> None:
        """Close and remove every run file."""
        for run in self._runs:
            run.handle.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> ExternalSorter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _read_exact(handle: IO[bytes], size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        # Runs are our own files, written completely before the merge; a short read is a broken disk.
        raise OSError(f"run file truncated: wanted {size} bytes, got {len(data)}")
    return data


def _range_blocks(handle: IO[bytes], size: int, hint: int) -> Iterator[list[bytes]]:
    """The next `size` bytes of a run as blocks of whole lines (newline removed)."""
    carry = b""
    while size > 0:
        data = carry + _read_exact(handle, min(hint, size))
        size -= len(data) - len(carry)
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            lines = data[:cut].split(b"\n")
            lines.pop()
            yield lines


def gallop_merge(sources: list[Iterator[list[bytes]]]) -> Iterator[list[bytes]]:
    """K-way merge of sorted, unique lines given as blocks; yields slices of consecutive output.

    Instead of one heap step per line, the run with the smallest head gives up, in one slice, every line
    below the next-smallest head (found by binary search). Used only for a cell too large to be merged in
    memory, so its per-slice Python cost stays off the common path.
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
