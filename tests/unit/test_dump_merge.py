"""Global ordering: external sort by (timestamp, topic, partition, offset) with spilled runs."""

from __future__ import annotations

import bisect
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_sim.dump.merge import (
    PREFIX_LEN,
    ExternalSorter,
    RunFile,
    sort_prefix,
    timestamp_grid,
    timestamp_key,
)

Key = tuple[int, int, int, int]


def _line(key: Key) -> bytes:
    ts, topic, partition, offset = key
    return sort_prefix(ts, topic, partition, offset) + b'{"id":"%d:%d:%d"}' % (topic, partition, offset)


def _merge(
    keys: list[Key], tmp_path: Path, chunk: int, boundaries: list[bytes] | None = None, group: int = 1 << 20
) -> list[bytes]:
    lines = [_line(k) for k in keys]
    pieces = [lines[i : i + chunk] for i in range(0, len(lines), chunk)] or [[]]
    with ExternalSorter(tmp_path, boundaries or [], group_bytes=group) as sorter:
        for piece in pieces[:-1]:
            sorter.spill(piece)
        assert sorter.run_count == len(pieces) - 1
        return list(sorter.merged(pieces[-1]))


def _non_monotonic_partitions(seed: int) -> list[Key]:
    rng = random.Random(seed)
    keys: list[Key] = []
    for topic in range(4):
        for partition in range(3):
            ts = 1_000
            for offset in range(200):
                ts += rng.randint(-30, 40)  # timestamps go backwards within a partition
                keys.append((max(ts, 0), topic, partition, offset))
    return keys


GRID = [timestamp_key(ts) for ts in timestamp_grid(0, 9_000, 64)]


@pytest.mark.parametrize(
    ("boundaries", "group"),
    [
        ([], 1 << 20),  # one cell: the whole merge streams through the heap
        (GRID, 1 << 20),  # every cell fits: grouped cells merged by one sort each
        (GRID, 2_000),  # small groups: many reads per run
        (GRID, 1),  # every cell over budget: each one streams
    ],
)
def test_merge_orders_non_monotonic_partitions_across_runs(
    tmp_path: Path, boundaries: list[bytes], group: int
) -> None:
    keys = _non_monotonic_partitions(7)
    merged = _merge(keys, tmp_path, chunk=97, boundaries=boundaries, group=group)
    assert merged == [_line(k)[PREFIX_LEN:] for k in sorted(keys)]
    assert len(merged) == len(keys)


def test_cells_merge_progressively_and_late_lines_are_refused(tmp_path: Path) -> None:
    keys = sorted(_non_monotonic_partitions(3))
    lines = [_line(k) for k in keys]
    cut = bisect.bisect_left(lines, GRID[10])
    with ExternalSorter(tmp_path, GRID, group_bytes=4_000) as sorter:
        sorter.spill(lines[: cut // 2])
        early = [line for block in sorter.merge_cells(11, lines[cut // 2 : cut]) for line in block]
        assert early == lines[:cut] and sorter.next_cell == 11
        with pytest.raises(ValueError, match="already merged"):
            sorter.spill([lines[0]])
        sorter.spill(lines[cut : cut + 50])
        rest = [line for block in sorter.merged_blocks(lines[cut + 50 :]) for line in block]
    assert rest == lines[cut:]


def test_runs_exported_by_one_sorter_are_merged_by_another(tmp_path: Path) -> None:
    keys = _non_monotonic_partitions(11)
    lines = [_line(k) for k in keys]
    with ExternalSorter(tmp_path, GRID) as parent:
        worker = ExternalSorter(parent.directory, GRID, run_prefix="w0", shared_dir=True)
        worker.spill(lines[:500])
        worker.spill(lines[500:1000])
        worker.close()
        assert len(list(parent.directory.iterdir())) == 2  # the worker left its runs in place
        parent.adopt(worker.export(), worker.spilled_records)
        merged = [line for block in parent.merged_blocks(lines[1000:]) for line in block]
        assert merged == sorted(lines)
        with pytest.raises(ValueError, match="another grid"):
            parent.adopt([RunFile("x", b"\0" * 8)], 0)
    assert not tmp_path.joinpath(parent.directory.name).exists()


def test_grid_cuts_the_window_in_equal_steps() -> None:
    assert timestamp_grid(0, 10, 4) == [3, 6, 9]
    assert timestamp_grid(0, 3, 10) == [1, 2]  # never finer than 1 ms
    assert timestamp_grid(5, 6, 8) == []


def test_ties_break_on_topic_then_partition_then_offset(tmp_path: Path) -> None:
    keys: list[Key] = [(5, 1, 0, 3), (5, 0, 2, 9), (5, 0, 2, 1), (5, 0, 1, 7), (4, 3, 0, 0), (5, 1, 0, 2)]
    merged = _merge(keys, tmp_path, chunk=2)
    ids = [line.split(b'"')[3] for line in merged]
    assert ids == [b"3:0:0", b"0:1:7", b"0:2:1", b"0:2:9", b"1:0:2", b"1:0:3"]


def test_single_chunk_never_touches_disk(tmp_path: Path) -> None:
    with ExternalSorter(tmp_path) as sorter:
        merged = list(sorter.merged([_line((3, 0, 0, 1)), _line((1, 0, 0, 2))]))
        assert sorter.run_count == 0
    assert merged[0].startswith(b'{"id":"0:0:2"}')
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2**44), st.integers(0, 20), st.integers(0, 200), st.integers(0, 2**62)),
        unique_by=lambda k: (k[1], k[2], k[3]),
        max_size=60,
    )
)
def test_prefix_byte_order_equals_tuple_order(keys: list[Key]) -> None:
    assert sorted(keys, key=lambda k: sort_prefix(*k)) == sorted(keys)


def test_gallop_merge_moves_disjoint_runs_in_whole_slices() -> None:
    from torghut_sim.dump.merge import gallop_merge

    first = [b"a1", b"a2", b"a3"]
    second = [b"b1", b"b2"]
    interleaved = [b"a25", b"b15"]
    out = list(gallop_merge([iter([[], first, []]), iter([second]), iter([interleaved])]))
    assert [line for block in out for line in block] == sorted(first + second + interleaved)
    assert out[0] == [b"a1", b"a2"]  # taken as one slice up to the next smallest head
    assert list(gallop_merge([iter([]), iter([[]])])) == []


def test_partitions_are_dealt_to_workers_by_expected_records() -> None:
    from torghut_sim.dump.consume import PartitionState
    from torghut_sim.dump.record import PartitionLineEncoder
    from torghut_sim.dump.worker import split_partitions

    def state(partition: int, records: int) -> PartitionState:
        return PartitionState("t", partition, 0, records, PartitionLineEncoder("t", partition, "r"))

    states = [state(0, 10), state(1, 60), state(2, 30), state(3, 25), state(4, 0)]
    groups = split_partitions(states, 2)
    assert [[s.partition for s in g] for g in groups] == [[1, 4], [2, 3, 0]]  # loads 60 and 65
    assert split_partitions(states[:1], 4) == [states[:1]]
