"""Small shared helpers of the sections: rates, float rounding, exact scaled integers, UTC text."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Context, Decimal

import polars as pl

# Exports carry decimal128(38, 10): a value is its physical integer over 10¹⁰.
QTY_SCALE = 10
# Products of two scale-10 values (money) are exact at scale 20.
MONEY_SCALE = 20
WIDE = Context(prec=200)
FLOAT_DIGITS = 6


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded for stable output; None when there is no whole."""
    if whole <= 0:
        return None
    return round(part / whole, FLOAT_DIGITS)


def rounded(value: float | None, digits: int = FLOAT_DIGITS) -> float | None:
    """A float rounded so identical inputs always print identically; None passes through."""
    return None if value is None else round(value, digits)


def scaled(value: int, scale: int) -> Decimal:
    """The exact decimal of an integer at a given scale."""
    return Decimal(value).scaleb(-scale, WIDE)


def iso_utc(value: datetime | None) -> str | None:
    """UTC ISO-8601 text with a `Z` suffix; None passes through."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def physical(frame: pl.DataFrame, column: str) -> list[int | None]:
    """The integers behind a decimal column (value × 10^scale), nulls kept."""
    values: list[int | None] = frame.get_column(column).to_physical().to_list()
    return values


def count_where(frame: pl.DataFrame, condition: pl.Expr) -> int:
    """How many rows satisfy `condition` (null = no), without copying the rows as a filter would."""
    return int(frame.select(condition.fill_null(value=False).sum()).item())


def sorted_counts(series: pl.Series, missing: str = "unknown") -> dict[str, int]:
    """Counts of each text value (nulls as `missing`), keys sorted so output is deterministic."""
    counts: dict[str, int] = {}
    for value, count in series.fill_null(missing).value_counts().iter_rows():
        counts[str(value)] = int(count)
    return dict(sorted(counts.items()))
