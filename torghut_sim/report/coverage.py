"""The coverage section: what the dump captured of the session and whether replay delivered it."""

from __future__ import annotations

from typing import Any

from torghut_sim.report.figures import rate, rounded
from torghut_sim.report.inputs import RunInputs
from torghut_sim.report.model import Coverage


def _int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _float(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _counts(data: dict[str, Any], key: str) -> dict[str, int]:
    value = data.get(key)
    if not isinstance(value, dict):
        return {}
    return {
        str(k): int(v) for k, v in sorted(value.items()) if isinstance(v, int) and not isinstance(v, bool)
    }


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def coverage_ratio(dump: dict[str, Any]) -> float | None:
    """The session coverage ratio of a dump marker: as recorded, else covered/session minutes."""
    block = _mapping(dump, "coverage")
    ratio = _float(block, "ratio")
    if ratio is not None:
        return ratio
    session = _int(block, "session_minutes")
    covered = _int(block, "covered_minutes")
    if session and covered is not None:
        return covered / session
    # An empty day carries no coverage block worth trusting: nothing of the session was seen.
    return 0.0 if dump.get("status") == "empty_day" else None


def build_coverage(inputs: RunInputs) -> Coverage:
    """Coverage and integrity figures from the dump and replay markers and ClickHouse counts."""
    settings = inputs.settings
    dump = inputs.dump_marker or {}
    replay = inputs.replay_marker or {}
    block = _mapping(dump, "coverage")
    ratio = coverage_ratio(dump) if inputs.dump_marker is not None else None
    gaps = _counts(dump, "offset_gaps")
    partitions = set(_mapping(dump, "records_by_partition")) | set(_mapping(dump, "offset_ranges"))
    records = _int(dump, "records")
    skipped = _int(dump, "out_of_window_skipped")
    out_rate = rate(skipped, records + skipped) if records is not None and skipped is not None else None
    replay_matches: bool | None = None
    if inputs.dump_marker is not None and inputs.replay_marker is not None:
        replay_matches = (
            replay.get("dump_sha256") == dump.get("payload_sha256") and _int(replay, "records") == records
        )
    clickhouse = {
        str(table): int(rows)
        for table, rows in sorted(
            inputs.clickhouse_counts.select("table", "rows").drop_nulls().iter_rows(), key=lambda r: str(r[0])
        )
    }
    pace = _mapping(replay, "pace").get("mode")
    monitor = inputs.monitor or {}
    return Coverage(
        dump_available=inputs.dump_marker is not None,
        dump_status=str(dump["status"]) if "status" in dump else None,
        session_minutes=_int(block, "session_minutes"),
        covered_minutes=_int(block, "covered_minutes"),
        coverage_ratio=rounded(ratio),
        strict_coverage_ratio=settings.strict_coverage_ratio,
        min_coverage_minutes=settings.min_coverage_minutes,
        meets_strict_ratio=None if ratio is None else ratio >= settings.strict_coverage_ratio,
        records_dumped=records,
        expected_records=_int(dump, "expected_records"),
        records_by_topic=_counts(dump, "records_by_topic"),
        out_of_window_skipped=skipped,
        out_of_window_rate=out_rate,
        partitions=len(partitions),
        partitions_with_offset_gaps=sorted(p for p, n in gaps.items() if n > 0),
        offset_gap_records=sum(n for n in gaps.values() if n > 0),
        replay_available=inputs.replay_marker is not None,
        records_replayed=_int(replay, "records"),
        replay_records_by_topic=_counts(replay, "records_by_topic"),
        replay_matches_dump=replay_matches,
        replay_pace_mode=str(pace) if pace is not None else None,
        replay_duration_seconds=rounded(_float(replay, "duration_seconds"), 3),
        clickhouse_rows=clickhouse,
        inputs_complete=bool(monitor["complete"]) if "complete" in monitor else None,
        inputs_incomplete_reasons=sorted(str(p) for p in monitor.get("problems") or []),
    )
