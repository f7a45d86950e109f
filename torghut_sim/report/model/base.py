"""What every report model shares: the schema version, exact decimals as JSON strings, the section base."""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

SCHEMA_VERSION: Final = "torghut.simulation-report.v1"

# Wide enough that normalising a sum of scale-20 money values never rounds.
_WIDE = Context(prec=200)


def format_decimal(value: Decimal) -> str:
    """Canonical text of an exact decimal: no exponent, no trailing zeros, `0` for any zero."""
    if value == 0:
        return "0"
    return format(value.normalize(_WIDE), "f")


# Money, quantities and prices travel as strings so no consumer ever sees a rounded float.
ExactDecimal = Annotated[
    Decimal,
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}),
]

Verdict = Literal["PASS", "WARN", "FAIL"]
Severity = Literal["info", "warn", "fail"]
MarkSource = Literal["last_price", "last_fill", "none"]


class Section(BaseModel):
    """Every section: immutable, no unknown fields, so the schema is the whole truth."""

    model_config = ConfigDict(extra="forbid", frozen=True)
