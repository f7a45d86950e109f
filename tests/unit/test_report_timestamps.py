"""The fixed-width ISO timestamp parser: hand-checked instants, every layout, and refusal of the rest."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from torghut_sim.report.inputs import parse_iso_utc_series
from torghut_sim.report.timestamps import parse_utc


def test_fixed_layouts_give_exact_instants_and_keep_nulls() -> None:
    texts = pl.Series(
        "t",
        [
            "2026-03-06T14:30:00.408162Z",
            None,
            "1969-12-31T23:59:59.999999Z",
            "2024-02-29T00:00:00.000001Z",
            "0001-01-01T00:00:00.000000Z",
        ],
    )
    parsed = parse_utc(texts)
    assert parsed is not None
    assert parsed.dtype == pl.Datetime("us", "UTC")
    assert parsed.name == "t"
    assert parsed.to_list() == [
        datetime(2026, 3, 6, 14, 30, 0, 408162, tzinfo=UTC),
        None,
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 2, 29, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ]
    # −1 µs before the epoch, physically.
    assert parsed.to_physical()[2] == -1


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-06T14:30:05.000250+00:00",
        "2026-03-06T14:30:05Z",
        "2026-03-06T14:30:05+00:00",
    ],
)
def test_each_layout_agrees_with_polars(text: str) -> None:
    series = pl.Series([text, text])
    fast = parse_utc(series)
    assert fast is not None
    expected = datetime(2026, 3, 6, 14, 30, 5, 250 if "." in text else 0, tzinfo=UTC)
    assert fast.to_list() == [expected, expected]
    assert parse_iso_utc_series(series).to_list() == [expected, expected]


@pytest.mark.parametrize(
    "texts",
    [
        ["2026-02-30T00:00:00.000000Z"],  # no such day
        ["2026-03-06T24:00:00.000000Z"],  # no such hour
        ["2026-03-06T14:60:00.000000Z"],
        ["2026-13-06T14:00:00.000000Z"],
        ["2026-03-06 14:00:00.000000Z"],  # a space, not a T
        ["2026-03-06T14:00:00+01:00"],  # another offset
        ["2026-03-06T14:00:00.12345Z"],  # five fraction digits
        ["2026-03-06T14:00:00Z", "2026-03-06T14:00:00.000000Z"],  # two layouts
        ["2026-03-0xT14:00:00.000000Z"],
        ["2026-03-0/T14:00:00.000000Z"],  # just below "0": a byte that wraps past 9
        ["2026-03-06T14:00:00.00000:Z"],  # just above "9"
        [None],
    ],
)
def test_anything_else_is_left_to_polars(texts: list[str | None]) -> None:
    assert parse_utc(pl.Series(texts, dtype=pl.String)) is None


def test_the_series_parser_falls_back_to_the_general_path() -> None:
    series = pl.Series(
        ["2026-03-06 14:00:00.5Z", "2026-03-06T14:00:00+01:00", "junk", "2026-02-30T00:00:00Z"]
    )
    assert parse_iso_utc_series(series).to_list() == [
        datetime(2026, 3, 6, 14, 0, 0, 500000, tzinfo=UTC),
        datetime(2026, 3, 6, 13, 0, tzinfo=UTC),
        None,
        None,
    ]


def test_a_slice_reads_its_own_rows() -> None:
    series = pl.Series(["2026-03-06T14:00:00Z", "2026-03-06T15:00:00Z", "2026-03-06T16:00:00Z"]).slice(1, 2)
    parsed = parse_utc(series)
    assert parsed is not None
    assert parsed.to_list() == [datetime(2026, 3, 6, 15, tzinfo=UTC), datetime(2026, 3, 6, 16, tzinfo=UTC)]
