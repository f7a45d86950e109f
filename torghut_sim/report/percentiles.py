"""Order statistics of the report: percentiles by linear interpolation, the contract's one definition."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from torghut_sim.report.errors import ReportError


def percentile_sorted(values: npt.NDArray[np.float64], p: float) -> float | None:
    """The p-th percentile of already sorted values at rank (n−1)·p/100; None when empty."""
    n = len(values)
    if n == 0:
        return None
    rank = (n - 1) * p / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    low = float(values[lo])
    if hi == lo:
        return low
    return low + (float(values[hi]) - low) * (rank - lo)


def percentile(values: Sequence[float] | npt.NDArray[np.float64], p: float) -> float | None:
    """The p-th percentile (0–100) of unsorted values; None for no values."""
    if not 0 <= p <= 100:
        raise ReportError(f"percentile out of range: {p}", reason="percentile_out_of_range")
    arr = np.sort(np.asarray(values, dtype=np.float64))
    return percentile_sorted(arr, p)
