"""`torghut-sim replay`: produce a dump into a run's simulation topics, once."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.marker import DumpMarker
from torghut_sim.guards import dumped_topics_mutation, guard_mutation
from torghut_sim.kafka.cli import (
    add_connection_args,
    add_source_topic_args,
    connection_from_args,
    source_topics_from_args,
    terminal_progress,
)
from torghut_sim.layout import RunPaths
from torghut_sim.replay.pacing import PACE_MODES, PaceSettings
from torghut_sim.replay.replayer import replay_dump
from torghut_sim.replay.request import ReplayRequest, ReplayTuning


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `replay` to the CLI."""
    parser = subparsers.add_parser("replay", help="replay a dump into the run's simulation topics")
    add_connection_args(parser)
    parser.add_argument("--run-token", required=True)
    parser.add_argument("--dump", required=True, type=Path, help=".jsonl.zst, .jsonl.gz or .ndjson dump")
    parser.add_argument("--marker", type=Path, help="replay marker path (default: beside the dump)")
    parser.add_argument("--pace-mode", choices=PACE_MODES, default="max_throughput")
    parser.add_argument("--acceleration", type=float, default=60.0)
    parser.add_argument("--max-sleep-seconds", type=float, default=5.0)
    parser.add_argument("--default-partitions", type=int, default=6)
    parser.add_argument("--replication-factor", type=int, default=1)
    add_source_topic_args(parser)
    parser.add_argument("--force", action="store_true", help="replay even when a marker says it was done")
    parser.add_argument(
        "--engine",
        choices=("auto", "native", "python"),
        default="auto",
        help="data path: the native engine when built (auto), always it (native), or Python",
    )
    parser.set_defaults(handler=run)


def _expected_records(dump: Path) -> int | None:
    """The record count from the dump marker beside the file, for the progress ETA (best effort)."""
    marker_path = RunPaths(dump.parent).dump_marker
    if not marker_path.exists():
        return None
    try:
        marker = DumpMarker.read(marker_path)
    except DumpError:  # only an ETA hint; the replay verifies nothing from it
        return None
    return marker.records if marker.dump_file == dump.name else None


def run(args: argparse.Namespace) -> int:
    """Replay (or skip when already replayed) and print the marker as JSON."""
    topics = source_topics_from_args(args)
    guard_mutation(dumped_topics_mutation("replay", args.run_token, topics.values()))
    request = ReplayRequest(
        dump_path=args.dump,
        run_token=args.run_token,
        marker_path=args.marker or RunPaths(args.dump.parent).replay_marker,
        source_topics=topics,
        pace=PaceSettings(args.pace_mode, args.acceleration, args.max_sleep_seconds),
        default_partitions=args.default_partitions,
        replication_factor=args.replication_factor,
        expected_records=_expected_records(args.dump),
    )
    result = replay_dump(
        connection_from_args(args),
        request,
        force=args.force,
        progress=terminal_progress(),
        tuning=ReplayTuning(engine=args.engine),
    )
    print(
        json.dumps(
            {
                "skipped": result.skipped,
                "produced": result.produced,
                "distrusted_marker": result.distrusted_marker,
                "records_deleted": dict(result.records_deleted),
                **json.loads(result.marker.model_dump_json()),
            },
            indent=2,
        )
    )
    return 0
