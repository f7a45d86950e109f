"""The dump's records read, ordered, hashed and compressed by the native engine (`native/kafka-engine`).

Python plans the partitions (start/end offsets) and writes the marker; the engine reads the planned
offsets and writes a file byte-identical (uncompressed) to the Python engine's. This module turns the
plan into the engine's job and the engine's result back into the partition counters, hashes, bounds and
coverage the marker is built from. The job carries the SASL password on stdin only.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torghut_sim.dump.consume import DumpTuning, PartitionState
from torghut_sim.dump.coverage import CoverageAccumulator
from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.io import WrittenDump
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import connection_job, engine_errors_as, run_engine
from torghut_sim.kafka.progress import ProgressCallback, ProgressTracker


@dataclass(frozen=True)
class NativeDumpPlan:
    """Where and what the engine dumps, besides the partitions and the tuning."""

    dump_path: Path
    spill_dir: Path
    window_ms: tuple[int, int]
    session_ms: tuple[int, int]
    # Source topic -> the `replay_topic` written into its lines.
    replay_topics: Mapping[str, str]


@dataclass
class NativeDump:
    """What the engine produced, in the terms the marker is built from."""

    states: list[PartitionState]
    written: WrittenDump
    coverage: CoverageAccumulator
    min_timestamp_ms: int | None
    max_timestamp_ms: int | None
    skipped: int
    streamed: bool
    spilled_runs: int


def dump_job(
    connection: KafkaConnection,
    plan: NativeDumpPlan,
    states: list[PartitionState],
    tuning: DumpTuning,
    spill_dir: Path,
) -> dict[str, Any]:
    """The engine's `dump` job for the planned partitions (see native/kafka-engine/README.md)."""
    missing = sorted({s.topic for s in states} - set(plan.replay_topics))
    if missing:
        raise DumpError(f"no replay topic for {', '.join(missing)}", reason="dump_plan_invalid")
    return {
        **connection_job(connection),
        "partitions": [
            {
                "topic": s.topic,
                "partition": s.partition,
                "start": s.start,
                "end": s.end,
                "replay_topic": plan.replay_topics[s.topic],
            }
            for s in states
        ],
        "window_start_ms": plan.window_ms[0],
        "window_end_ms": plan.window_ms[1],
        "session_start_ms": plan.session_ms[0],
        "session_end_ms": plan.session_ms[1],
        "dump_path": str(plan.dump_path),
        "spill_dir": str(spill_dir),
        "memory_budget_bytes": max(tuning.native_chunk_bytes, 1),
        "memory_limit_bytes": tuning.native_memory_limit_bytes,
        "zstd_level": tuning.zstd_level,
        "order_horizon_ms": max(tuning.order_horizon_ms, 0),
        "read_ahead_ms": tuning.native_read_ahead_ms,
        "stall_timeout_ms": int(tuning.stall_timeout_seconds * 1000),
        "connect_timeout_ms": int(tuning.metadata_timeout_seconds * 1000),
        "progress_interval_ms": 500,
    }


def apply_result(result: Mapping[str, Any], plan: NativeDumpPlan, states: list[PartitionState]) -> NativeDump:
    """Fill the partition counters from the engine's result and gather what the marker needs."""
    try:
        by_label = {f"{p['topic']}:{p['partition']}": p for p in result["partitions"] or []}
        if set(by_label) != {s.label for s in states}:
            raise DumpError(
                f"the engine reported partitions {sorted(by_label)}, not {sorted(s.label for s in states)}",
                reason="dump_engine_result_invalid",
            )
        for state in states:
            counters = by_label[state.label]
            state.seen = int(counters["seen"])
            state.kept = int(counters["kept"])
            state.first = int(counters["first"])
            state.last = int(counters["last"])
            state.done = True
        coverage = CoverageAccumulator(*plan.session_ms)
        reported = result["coverage"]
        coverage.add_minutes(
            [int(m) for m in reported["covered_minutes"]], reported["first_ts_ms"], reported["last_ts_ms"]
        )
        written = WrittenDump(
            path=plan.dump_path,
            sha256=str(result["sha256"]),
            payload_sha256=str(result["payload_sha256"]),
            records=int(result["records"]),
            size_bytes=int(result["size_bytes"]),
        )
        return NativeDump(
            states=states,
            written=written,
            coverage=coverage,
            min_timestamp_ms=result["min_timestamp_ms"],
            max_timestamp_ms=result["max_timestamp_ms"],
            skipped=int(result["skipped"]),
            streamed=bool(result["streamed"]),
            spilled_runs=int(result.get("spilled_runs") or 0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DumpError(
            f"the engine's dump result is not valid: {exc!r}", reason="dump_engine_result_invalid"
        ) from None


class _EngineProgress:
    """Forwards the engine's progress events to one `ProgressTracker` per phase."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.trackers: dict[str, ProgressTracker] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        self._tracker(phase, total).update(done)

    def _tracker(self, phase: str, total: int) -> ProgressTracker:
        tracker = self.trackers.get(phase)
        if tracker is None:
            tracker = self.trackers[phase] = ProgressTracker(phase, self.callback, total=total or None)
        return tracker

    def finish(self, phase: str, done: int, total: int) -> None:
        self._tracker(phase, total).finish(done)


def run_native_dump(
    engine: Path,
    connection: KafkaConnection,
    plan: NativeDumpPlan,
    states: list[PartitionState],
    tuning: DumpTuning,
    progress: ProgressCallback | None = None,
) -> NativeDump:
    """Run the engine's dump of the planned partitions; its failures as `DumpError` with its reason."""
    plan.spill_dir.mkdir(parents=True, exist_ok=True)
    # Created (and removed) here too, so that an engine killed mid-dump leaves no spilled runs behind.
    spill_dir = Path(tempfile.mkdtemp(prefix="dump-runs-", dir=plan.spill_dir))
    partial = plan.dump_path.with_name(plan.dump_path.name + ".partial")
    reports = _EngineProgress(progress)
    try:
        job = dump_job(connection, plan, states, tuning, spill_dir)
        with engine_errors_as(DumpError):
            result = run_engine(engine, "dump", job, reports)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)
    done = apply_result(result, plan, states)
    expected = sum(s.end - s.start for s in states)
    reports.finish("dump", sum(s.seen for s in states), expected)
    reports.finish("merge", done.written.records, sum(s.kept for s in states))
    return done
