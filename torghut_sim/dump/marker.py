"""The dump marker beside the dump file: hashes, counts, offsets, window, session coverage, status."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from torghut_sim.dump.coverage import Coverage
from torghut_sim.dump.errors import DumpError
from torghut_sim.marker_file import MarkerFile

DUMP_MARKER_SCHEMA = "torghut.source-dump-marker.v1"
DumpStatus = Literal["ok", "empty_day"]


class DumpMarkerInvalidError(DumpError):
    """A marker file that is not a valid dump marker."""

    reason = "dump_marker_invalid"


class TimeRange(BaseModel):
    """A half-open UTC interval [start, end)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime


class OffsetRange(BaseModel):
    """First and last offset dumped from one partition."""

    model_config = ConfigDict(frozen=True)

    first: int
    last: int


class DumpMarker(MarkerFile):
    """Proof of what a dump file holds; a dump is reused only when this agrees with the file."""

    invalid_error = DumpMarkerInvalidError

    schema_version: Literal["torghut.source-dump-marker.v1"] = "torghut.source-dump-marker.v1"
    dump_file: str
    sha256: str
    payload_sha256: str
    records: int
    records_by_topic: dict[str, int]
    records_by_partition: dict[str, int]
    offset_ranges: dict[str, OffsetRange]
    offset_gaps: dict[str, int]
    out_of_window_skipped: int
    min_timestamp_ms: int | None
    max_timestamp_ms: int | None
    window: TimeRange
    session: TimeRange
    coverage: Coverage
    status: DumpStatus
    expected_records: int
    created_at: datetime
