"""Session coverage maths: minutes with records, first/last, span, and the chunk-based fast path."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from torghut_sim.dump.coverage import CoverageAccumulator, compute_coverage, session_minute_count
from torghut_sim.dump.merge import sort_prefix

START = 1_772_807_400_000  # 2026-03-06T14:30:00Z
MIN = 60_000


def test_session_minutes() -> None:
    assert session_minute_count(START, START + 390 * MIN) == 390
    assert session_minute_count(START, START + 210 * MIN) == 210
    assert session_minute_count(START, START + 90_500) == 2
    assert session_minute_count(START, START) == 0


def test_coverage_counts_minutes_inside_the_session_only() -> None:
    end = START + 10 * MIN
    stamps = [START - 1, START, START + 59_999, START + 3 * MIN + 5, START + 9 * MIN + 1, end, end + MIN]
    cov = compute_coverage(stamps, START, end)
    assert cov.session_minutes == 10
    assert cov.covered_minutes == 3  # minutes 0, 3, 9; the end instant is outside
    assert cov.ratio == 0.3
    assert cov.first_ts_ms == START
    assert cov.last_ts_ms == START + 9 * MIN + 1
    assert cov.span_minutes == round((9 * MIN + 1) / MIN, 3)


def test_empty_coverage() -> None:
    cov = compute_coverage([], START, START + 390 * MIN)
    assert (cov.covered_minutes, cov.ratio, cov.first_ts_ms, cov.last_ts_ms, cov.span_minutes) == (
        0,
        0.0,
        None,
        None,
        0.0,
    )


@given(st.lists(st.lists(st.integers(START - 5 * MIN, START + 35 * MIN), max_size=40), max_size=4))
def test_sorted_chunk_path_equals_timestamp_path(chunks: list[list[int]]) -> None:
    end = START + 30 * MIN + 30_000
    by_chunks = CoverageAccumulator(START, end)
    for index, chunk in enumerate(chunks):
        lines = sorted(sort_prefix(ts, 0, index, offset) + b"{}" for offset, ts in enumerate(chunk))
        by_chunks.add_sorted_prefixed(lines)
    assert by_chunks.result() == compute_coverage([ts for chunk in chunks for ts in chunk], START, end)
