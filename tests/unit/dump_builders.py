"""Builders of source-dump markers for tests that stand in for a dump: trades only, given coverage."""

from __future__ import annotations

from datetime import UTC, datetime

from torghut_sim.dump.coverage import Coverage
from torghut_sim.dump.marker import DumpMarker, TimeRange


def trades_marker(
    dump_file: str, records: int, window: TimeRange, session: TimeRange, ratio: float, span_minutes: float
) -> DumpMarker:
    """A marker of `records` trades covering `ratio` of a 390-minute session (`empty_day` without records)."""
    return DumpMarker(
        dump_file=dump_file,
        sha256="a" * 64,
        payload_sha256="b" * 64,
        records=records,
        records_by_topic={"torghut.trades.v1": records},
        records_by_partition={},
        offset_ranges={},
        offset_gaps={},
        out_of_window_skipped=0,
        min_timestamp_ms=None,
        max_timestamp_ms=None,
        window=window,
        session=session,
        coverage=Coverage(
            session_minutes=390,
            covered_minutes=round(390 * ratio),
            ratio=ratio,
            first_ts_ms=None,
            last_ts_ms=None,
            span_minutes=span_minutes,
        ),
        status="ok" if records else "empty_day",
        expected_records=records,
        created_at=datetime.now(UTC),
    )
