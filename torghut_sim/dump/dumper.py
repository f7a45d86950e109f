"""Dump the source topics of one window from Kafka into one ordered, hashed file plus its marker.

Per partition: seek with `offsets_for_times(window start)`, stop at `offsets_for_times(window end)`
clamped to the high watermark, read group-less (`assign`, no commits) and keep exactly the records with
start <= timestamp < end. Timestamps are not monotonic within a partition, so every record is filtered
on its own and the file is globally ordered by an external merge. An existing dump is reused only when
its marker and its bytes agree; a disagreeing one is refused, never silently replaced (unless forced).

The records themselves are read, ordered, hashed and written by the native engine when it is built
(`DumpTuning.engine`, see `torghut_sim/dump/native.py`), else by the Python engine (`passes.py`); both
write the same bytes, and the plan (`plan.py`) and the marker (here) are made in Python either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import zstandard

from torghut_sim.dump.consume import (
    DumpTuning,
    OrderViolationError,
    dump_consumer_config,
)
from torghut_sim.dump.errors import DumpError, DumpHashMismatchError
from torghut_sim.dump.io import file_sha256, payload_sha256
from torghut_sim.dump.marker import DumpMarker, DumpMarkerInvalidError, OffsetRange, TimeRange
from torghut_sim.dump.passes import dump_engine, native_pass, python_pass
from torghut_sim.dump.request import DumpRequest, DumpResult
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.progress import ProgressCallback

__all__ = [
    "DumpTuning",
    "dump_consumer_config",
    "dump_source",
    "verify_dump",
]


def _utc_ms(moment: datetime, what: str) -> int:
    if moment.tzinfo is None:
        raise DumpError(f"{what} must be timezone-aware (UTC)", reason="dump_window_invalid")
    return int(moment.timestamp() * 1000)


def verify_dump(dump_path: Path, marker_path: Path) -> DumpMarker:
    """The marker of an existing dump, after re-verifying both hashes and the count against the file."""
    marker = DumpMarker.read(marker_path)
    if marker.dump_file != dump_path.name:
        raise DumpHashMismatchError(f"{marker_path} describes {marker.dump_file}, not {dump_path.name}")
    actual = file_sha256(dump_path)
    if actual != marker.sha256:
        raise DumpHashMismatchError(f"{dump_path}: sha256 {actual} != marker {marker.sha256}")
    try:
        payload, count = payload_sha256(dump_path)
    except (zstandard.ZstdError, OSError, EOFError) as exc:
        raise DumpHashMismatchError(f"{dump_path}: unreadable: {exc}") from None
    if payload != marker.payload_sha256 or count != marker.records:
        raise DumpHashMismatchError(
            f"{dump_path}: payload {payload} ({count} lines) != marker {marker.payload_sha256} "
            f"({marker.records})"
        )
    return marker


def _reusable(request: DumpRequest) -> DumpMarker | None:
    """The verified marker when an existing dump matches the request; refusals when it cannot be reused."""
    if not (request.dump_path.exists() and request.marker_path.exists()):
        return None
    try:
        marker = verify_dump(request.dump_path, request.marker_path)
    except DumpMarkerInvalidError as exc:
        raise DumpHashMismatchError(str(exc.message)) from None
    wanted = TimeRange(start=request.window_start, end=request.window_end)
    if marker.window != wanted:
        raise DumpError(
            f"existing dump covers {marker.window.start}..{marker.window.end}, not "
            f"{wanted.start}..{wanted.end}; use force to re-dump",
            reason="dump_window_mismatch",
        )
    if set(marker.records_by_topic) != set(request.source_topics.values()):
        raise DumpError(
            f"existing dump holds topics {sorted(marker.records_by_topic)}; use force to re-dump",
            reason="dump_topics_mismatch",
        )
    return marker


def dump_source(
    connection: KafkaConnection,
    request: DumpRequest,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    tuning: DumpTuning | None = None,
) -> DumpResult:
    """Dump the window's records of every source topic, or reuse a verified existing dump."""
    tuning = tuning or DumpTuning()
    start_ms = _utc_ms(request.window_start, "window start")
    end_ms = _utc_ms(request.window_end, "window end")
    if end_ms <= start_ms:
        raise DumpError("window end must be after window start", reason="dump_window_invalid")
    session_start = request.session_start or request.window_start
    session_end = request.session_end or request.window_end
    if not force:
        marker = _reusable(request)
        if marker is not None:
            return DumpResult(marker, request.dump_path, request.marker_path, reused=True)
    window_ms = (start_ms, end_ms)
    session_ms = (_utc_ms(session_start, "session start"), _utc_ms(session_end, "session end"))
    streaming = tuning.order_horizon_ms > 0
    engine = dump_engine(tuning)
    if engine is not None:
        done = native_pass(engine, connection, request, tuning, progress, window_ms, session_ms)
    else:
        try:
            done = python_pass(connection, request, tuning, progress, window_ms, session_ms, streaming)
        except OrderViolationError:
            # A record arrived later than the horizon allowed: redo the dump with the full external sort.
            done = python_pass(connection, request, tuning, progress, window_ms, session_ms, streaming=False)
    states, written, coverage, bounds, skipped = (
        done.states,
        done.written,
        done.coverage,
        done.bounds,
        done.skipped,
    )
    kept_total = sum(s.kept for s in states)
    if written.records != kept_total:
        raise DumpError(
            f"wrote {written.records} lines for {kept_total} records", reason="dump_count_mismatch"
        )
    marker = DumpMarker(
        dump_file=request.dump_path.name,
        sha256=written.sha256,
        payload_sha256=written.payload_sha256,
        records=written.records,
        records_by_topic={
            topic: sum(s.kept for s in states if s.topic == topic)
            for topic in sorted(request.source_topics.values())
        },
        records_by_partition={s.label: s.kept for s in states},
        offset_ranges={s.label: OffsetRange(first=s.first, last=s.last) for s in states if s.kept},
        offset_gaps={s.label: (s.end - s.start) - s.seen for s in states},
        out_of_window_skipped=skipped,
        min_timestamp_ms=bounds.min,
        max_timestamp_ms=bounds.max,
        window=TimeRange(start=request.window_start, end=request.window_end),
        session=TimeRange(start=session_start, end=session_end),
        coverage=coverage.result(),
        status="ok" if written.records else "empty_day",
        expected_records=sum(s.end - s.start for s in states),
        created_at=datetime.now(UTC),
    )
    marker.write(request.marker_path)
    return DumpResult(marker, request.dump_path, request.marker_path, reused=False, streamed=done.streamed)
