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


class _ArrowArray:
    """Hands polars an arrow array through the Arrow C data interface.

    `pl.Series(pyarrow_array)` takes polars' pyarrow path, which imports pyarrow.compute (and
    `pl.from_arrow` pandas): about a second of every build for a few columns.
    """

    def __init__(self, array: pa.Array) -> None:
        self.array = array

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        capsules: tuple[object, object] = self.array.__arrow_c_array__(requested_schema)
        return capsules


def arrow_series(array: pa.Array) -> pl.Series:
    """A polars series of an arrow array, without polars' pyarrow path (and its imports)."""
    return pl.Series(_ArrowArray(array))


def _decimal_series(
    data: pa.Buffer, length: int, scale: int, offset: int = 0, validity: pa.Buffer | None = None
) -> pl.Series:
    """A Decimal(38, scale) series over little-endian int128 physical values (nulls where `validity` says)."""
    array = pa.Array.from_buffers(
        pa.decimal128(MAX_PRECISION, scale), length, [validity, data], offset=offset
    )
    return pl.Series(_ArrowArray(array))


def _wide_decimal(values: Sequence[int], scale: int) -> pl.Series:
    """Values beyond int64: polars builds the int128s (no per-value bytes in Python) and checks 38 digits."""
    try:
        exact = pl.Series(values, dtype=pl.Int128).cast(pl.Decimal(MAX_PRECISION, 0))
    except (TypeError, OverflowError, pl.exceptions.PolarsError) as exc:
        raise ReportError("a decimal figure exceeds 38 digits", reason="report_decimal_overflow") from exc
    physical = exact.to_arrow()
    return _decimal_series(physical.buffers()[1], len(physical), scale, physical.offset)


def decimal_column(values: pl.Series | Sequence[int], scale: int) -> pl.Series:
    """A Decimal(38, scale) series from integers (value × 10^scale) as a list or an integer series."""
    if not isinstance(values, pl.Series):
        return decimal_array(values, scale)
    if scale > MAX_OUTPUT_SCALE:
        return decimal_array(values.to_list(), scale)
    try:
        exact = values.cast(pl.Int128).cast(pl.Decimal(MAX_PRECISION, 0))
    except pl.exceptions.PolarsError as exc:
        raise ReportError("a decimal figure exceeds 38 digits", reason="report_decimal_overflow") from exc
    physical = exact.to_arrow()
    validity, data = physical.buffers()[:2]
    return _decimal_series(data, len(physical), scale, physical.offset, validity)


def decimal_array(values: Sequence[int], scale: int) -> pl.Series:
    """A Decimal(38, scale) series whose physical integers are `values` (value × 10^scale)."""
    if scale > MAX_OUTPUT_SCALE:
        values = _round_scale(values, scale - MAX_OUTPUT_SCALE)
        scale = MAX_OUTPUT_SCALE
    try:
        low = np.asarray(values, dtype=np.int64)
    except OverflowError:
        return _wide_decimal(values, scale)
    # Little-endian int128 is the int64 followed by its sign extension (int64 is far below 38 digits).
    pairs = np.empty((len(low), 2), dtype=np.int64)
    pairs[:, 0] = low
    pairs[:, 1] = low >> 63
    return _decimal_series(pa.py_buffer(pairs.tobytes()), len(low), scale)


def frame_from_arrays(columns: Mapping[str, pl.Series]) -> pl.DataFrame:
    """A frame of named series, in the given column order."""
    return pl.DataFrame([series.alias(name) for name, series in columns.items()])
