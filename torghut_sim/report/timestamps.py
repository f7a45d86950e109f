"""UTC microsecond timestamps of ISO-8601 texts in numpy, for the common fixed-width layouts.

polars parses through format strings one value at a time (and the report tries two, and normalises
the text first); this reads whole columns with integer arithmetic on fixed-width byte rows, three
times faster. It covers only the exact layouts below and says so (None): callers then use the general
path, which also turns junk into null.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from torghut_sim.report.arrays import arrow_series

_US_PER_DAY = 86_400_000_000
_DIGIT = ord("0")
# Layouts the parser reads: length → (separator bytes by position, whether it has six fraction digits).
_DATE = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}
_LAYOUTS: dict[int, tuple[dict[int, str], bool]] = {
    27: ({**_DATE, 19: ".", 26: "Z"}, True),
    32: ({**_DATE, 19: ".", 26: "+", 27: "0", 28: "0", 29: ":", 30: "0", 31: "0"}, True),
    20: ({**_DATE, 19: "Z"}, False),
    25: ({**_DATE, 19: "+", 20: "0", 21: "0", 22: ":", 23: "0", 24: "0"}, False),
}
# Digit fields: (position, width) of year, month, day, hour, minute, second.
_FIELDS = ((0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2))
_Ints = npt.NDArray[np.int64]


def _civil(days: _Ints) -> tuple[_Ints, _Ints, _Ints]:
    """Year, month and day of days since 1970-01-01 (proleptic Gregorian)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def _days(year: _Ints, month: _Ints, day: _Ints) -> _Ints:
    """Days since 1970-01-01 of a proleptic Gregorian date (the inverse of `_civil`)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    result: _Ints = era * 146_097 + doe - 719_468
    return result


def _fixed_rows(series: pl.Series) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]] | None:
    """The texts as one byte row each (null rows zero-filled) when every text has the same length."""
    array = series.to_arrow()
    if array.type != pa.large_string():
        return None
    n, start = len(array), array.offset
    offsets_buffer, data_buffer = array.buffers()[1:]
    valid = series.is_not_null().to_numpy()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[start : start + n + 1]
    all_lengths = np.diff(offsets)
    lengths = all_lengths[valid]
    if len(lengths) == 0 or lengths.min() != lengths.max():
        return None
    width = int(lengths[0])
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    rows = np.zeros((n, width), dtype=np.uint8)
    if not all_lengths[~valid].any():
        # Null rows take no bytes (the usual layout): the texts are one contiguous block of rows.
        first = int(offsets[0])
        rows[valid] = data[first : first + width * len(lengths)].reshape(len(lengths), width)
    else:
        # Gathering byte by byte builds an int64 index of every byte (~40 MB for a day): only when needed.
        rows[valid] = data[offsets[:-1][valid, None] + np.arange(width)]
    return rows, valid


def parse_utc(series: pl.Series) -> pl.Series | None:
    """UTC microsecond timestamps of ISO texts in one of the fixed layouts (`Z` or `+00:00`, with six
    fraction digits or none; nulls stay null); None unless every text is a valid one of one layout."""
    fixed = _fixed_rows(series)
    if fixed is None or fixed[0].shape[1] not in _LAYOUTS:
        return None
    rows, valid = fixed
    separators, fraction = _LAYOUTS[rows.shape[1]]
    real = rows[valid]
    if any((real[:, p] != ord(c)).any() for p, c in separators.items()):
        return None
    fields = (*_FIELDS, (20, 6)) if fraction else _FIELDS
    # Bytes stay bytes (a day of texts as int64 digits was ~30 MB of peak memory): below "0" wraps past 9.
    digits = real[:, [p + k for p, w in fields for k in range(w)]] - np.uint8(_DIGIT)
    if (digits > 9).any():
        return None
    values: list[_Ints] = []
    column = 0
    for _, width in fields:
        value = np.zeros(len(real), dtype=np.int64)
        for k in range(width):
            value = value * 10 + digits[:, column + k].astype(np.int64)
        values.append(value)
        column += width
    year, month, day, hour, minute, second = values[:6]
    days = _days(year, month, day)
    # A date is real when it survives the round trip (no 30 February), a time when in range.
    _, back_month, back_day = _civil(days)
    if not ((back_month == month).all() and (back_day == day).all()):
        return None
    if not ((hour < 24).all() and (minute < 60).all() and (second < 60).all()):
        return None
    us = np.zeros(len(rows), dtype=np.int64)
    us[valid] = days * _US_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1_000_000
    if fraction:
        us[valid] += values[6]
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    array = pa.Array.from_buffers(
        pa.timestamp("us", tz="UTC"), len(rows), [validity, pa.py_buffer(us.tobytes())]
    )
    return arrow_series(array).alias(series.name)
