"""Signal times from ISO-8601 text: offsets, `Z`, naive-as-UTC and junk, with and without the naive pass."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from torghut_sim.report.inputs import parse_iso_utc_series


def test_every_text_with_an_offset_parses_without_the_naive_pass() -> None:
    text = pl.Series("t", ["2026-03-06T14:30:00.5Z", " 2026-03-06 09:30:00-05:00 ", None])
    parsed = parse_iso_utc_series(text)
    assert parsed.name == "t"
    assert parsed.dtype == pl.Datetime("us", "UTC")
    assert parsed.to_list() == [
        datetime(2026, 3, 6, 14, 30, 0, 500000, tzinfo=UTC),
        datetime(2026, 3, 6, 14, 30, tzinfo=UTC),
        None,
    ]


def test_naive_text_counts_as_utc_and_junk_is_null() -> None:
    text = pl.Series("t", ["2026-03-06T14:30:00+01:00", "2026-03-06T14:30:00.000001", "yesterday", None])
    assert parse_iso_utc_series(text).to_list() == [
        datetime(2026, 3, 6, 13, 30, tzinfo=UTC),
        datetime(2026, 3, 6, 14, 30, 0, 1, tzinfo=UTC),
        None,
        None,
    ]
