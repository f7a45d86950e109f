"""The dump marker beside the dump file: hashes, counts, offsets, window, session coverage, status."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from torghut_sim.atomic_file import write_text_atomic
from torghut_sim.dump.coverage import Coverage
from torghut_sim.dump.errors import DumpError

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


class DumpMarker(BaseModel):
    """Proof of what a dump file holds; a dump is reused only when this agrees with the file."""

    model_config = ConfigDict(frozen=True)

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

    def write(self, path: Path) -> None:
        """Write the marker atomically (temp file + rename)."""
        write_text_atomic(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> DumpMarker:
        """Load a marker; an unreadable or invalid one is refused."""
        try:
            return cls.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise DumpMarkerInvalidError(f"{path}: {exc}") from None
