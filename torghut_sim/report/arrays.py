"""Exact decimal columns from scaled Python integers, without a detour through `Decimal` objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from torghut_sim.report.errors import ReportError

MAX_PRECISION = 38
# Output columns never carry more fractional digits than this; finer costs are rounded half-even.
MAX_OUTPUT_SCALE = 28


def _round_scale(values: Sequence[int], drop: int) -> list[int]:
    divisor = 10**drop
    half = divisor // 2
    out = []
    for value in values:
        quotient, remainder = divmod(value, divisor)
        if remainder > half or (remainder == half and quotient % 2):
            quotient += 1
        out.append(quotient)
    return out


def _int128_bytes(values: Sequence[int]) -> bytes:
    try:
        low = np.asarray(values, dtype=np.int64)
    except OverflowError:
        return b"".join(v.to_bytes(16, "little", signed=True) for v in values)
    # Little-endian int128 is the int64 followed by its sign extension.
    pairs = np.empty((len(low), 2), dtype=np.int64)
    pairs[:, 0] = low
    pairs[:, 1] = low >> 63
    return pairs.tobytes()


def decimal_array(values: Sequence[int], scale: int) -> pl.Series:
    """A Decimal(38, scale) series whose physical integers are `values` (value × 10^scale)."""
    if scale > MAX_OUTPUT_SCALE:
        values = _round_scale(values, scale - MAX_OUTPUT_SCALE)
        scale = MAX_OUTPUT_SCALE
    limit = 10**MAX_PRECISION
    if values and (max(values) >= limit or min(values) <= -limit):
        raise ReportError("a decimal figure exceeds 38 digits", reason="report_decimal_overflow")
    array = pa.Array.from_buffers(
        pa.decimal128(MAX_PRECISION, scale), len(values), [None, pa.py_buffer(_int128_bytes(values))]
    )
    # pl.Series, not pl.from_arrow: the latter imports pandas, a second of every build.
    return pl.Series(array)


def frame_from_arrays(columns: Mapping[str, pl.Series]) -> pl.DataFrame:
    """A frame of named series, in the given column order."""
    return pl.DataFrame([series.alias(name) for name, series in columns.items()])
