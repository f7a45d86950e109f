"""Percentiles by linear interpolation at rank (n−1)·p/100, on 0, 1, 2 and n values."""

from __future__ import annotations

import pytest

from torghut_sim.report.errors import ReportError
from torghut_sim.report.percentiles import percentile


def test_empty_is_none() -> None:
    assert percentile([], 50) is None


def test_one_value_is_every_percentile() -> None:
    assert [percentile([7.0], p) for p in (0, 50, 95, 100)] == [7.0, 7.0, 7.0, 7.0]


def test_two_values_interpolate() -> None:
    # rank = 1·p/100: p50 halfway, p95 at 95 % of the way from 10 to 20.
    assert percentile([20.0, 10.0], 50) == 15.0
    assert percentile([10.0, 20.0], 95) == pytest.approx(19.5)
    assert percentile([10.0, 20.0], 0) == 10.0


def test_n_values() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10, unsorted order must not matter
    values.reverse()
    assert percentile(values, 50) == pytest.approx(5.5)  # rank 4.5
    assert percentile(values, 95) == pytest.approx(9.55)  # rank 8.55
    assert percentile(values, 99) == pytest.approx(9.91)  # rank 8.91
    assert percentile(values, 100) == 10.0


def test_out_of_range_is_refused() -> None:
    with pytest.raises(ReportError) as info:
        percentile([1.0], 101)
    assert info.value.reason == "percentile_out_of_range"
