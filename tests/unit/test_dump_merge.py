"""Global ordering: external sort by (timestamp, topic, partition, offset) with spilled runs."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_sim.dump.merge import PREFIX_LEN, ExternalSorter, sort_prefix

Key = tuple[int, int, int, int]


def _line(key: Key) -> bytes:
    ts, topic, partition, offset = key
    return sort_prefix(ts, topic, partition, offset) + b'{"id":"%d:%d:%d"}\n' % (topic, partition, offset)


def _merge(keys: list[Key], tmp_path: Path, chunk: int) -> list[bytes]:
    lines = [_line(k) for k in keys]
    pieces = [lines[i : i + chunk] for i in range(0, len(lines), chunk)] or [[]]
    with ExternalSorter(tmp_path) as sorter:
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


def test_merge_orders_non_monotonic_partitions_across_runs(tmp_path: Path) -> None:
    keys = _non_monotonic_partitions(7)
    merged = _merge(keys, tmp_path, chunk=97)
    assert merged == [_line(k)[PREFIX_LEN:] for k in sorted(keys)]
    assert len(merged) == len(keys)


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
