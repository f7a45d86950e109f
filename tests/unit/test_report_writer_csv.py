"""The report's CSV tables: timestamps as UTC ISO `Z` text at microseconds, decimals without padding."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from torghut_sim.report.inputs import file_sha256
from torghut_sim.report.writer import write_tables


def test_csv_text_and_artifacts(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "t": pl.Series(
                [
                    datetime(2026, 3, 6, 14, 30, 1, 5, tzinfo=UTC),
                    None,
                    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                ],
                dtype=pl.Datetime("us", "UTC"),
            ),
            # 09:00 in New York (EST) in nanoseconds is 14:00 UTC.
            "ny": pl.Series([datetime(2026, 3, 6, 9)] * 3)
            .dt.replace_time_zone("America/New_York")
            .dt.cast_time_unit("ns"),
            "d": pl.Series([Decimal("1.50"), Decimal("-0.000"), None], dtype=pl.Decimal(38, 3)),
            "e": pl.Series([Decimal("-10.000"), Decimal("-0.001"), Decimal("0")], dtype=pl.Decimal(38, 3)),
            "z": pl.Series([Decimal("-5"), Decimal("-0"), None], dtype=pl.Decimal(38, 0)),
        }
    )
    artifacts = write_tables(tmp_path, {"one": frame, "two": frame.head(1)})
    assert (tmp_path / "one.csv").read_text() == (
        "t,ny,d,e,z\n"
        "2026-03-06T14:30:01.000005Z,2026-03-06T14:00:00.000000Z,1.5,-10,-5\n"
        ",2026-03-06T14:00:00.000000Z,0,-0.001,0\n"
        "1969-12-31T23:59:59.999999Z,2026-03-06T14:00:00.000000Z,,0,\n"
    )
    assert [(a.name, a.role, a.rows) for a in artifacts] == [
        ("one.csv", "csv", 3),
        ("one.parquet", "parquet", 3),
        ("two.csv", "csv", 1),
        ("two.parquet", "parquet", 1),
    ]
    assert all(a.sha256 == file_sha256(tmp_path / a.name) for a in artifacts)
    assert pl.read_parquet(tmp_path / "one.parquet").equals(frame)
