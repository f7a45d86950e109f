"""Numeric metadata: the figures Dagster plots over partitions; the exact decimals stay in the artifacts."""

from decimal import Decimal

import dagster as dg

Number = Decimal | float | int | None


def figure(value: Number) -> dg.MetadataValue:
    """An int stays an int; a decimal or float becomes a float; a missing figure is null (a gap in a plot)."""
    if value is None:
        return dg.MetadataValue.null()
    if isinstance(value, int) and not isinstance(value, bool):
        return dg.MetadataValue.int(value)
    return dg.MetadataValue.float(float(value))


def figures(values: dict[str, Number]) -> dict[str, dg.MetadataValue]:
    """`figure` of every value, by the same keys."""
    return {key: figure(value) for key, value in values.items()}
