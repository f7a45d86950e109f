"""`torghut-sim dump`: dump the source topics of a window into an ordered, hashed file and marker."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from torghut_sim.dump.dumper import dump_source
from torghut_sim.dump.request import DumpRequest
from torghut_sim.guards import dumped_topics_mutation, guard_mutation
from torghut_sim.kafka.cli import (
    add_connection_args,
    add_source_topic_args,
    connection_from_args,
    parse_utc,
    source_topics_from_args,
    terminal_progress,
)
from torghut_sim.layout import RunPaths


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `dump` to the CLI."""
    parser = subparsers.add_parser("dump", help="dump the source topics of a window from Kafka")
    add_connection_args(parser)
    parser.add_argument("--start", required=True, type=parse_utc, help="window start (ISO-8601 with zone)")
    parser.add_argument("--end", required=True, type=parse_utc, help="window end, exclusive")
    parser.add_argument(
        "--session-start", type=parse_utc, help="session start for coverage (default: --start)"
    )
    parser.add_argument("--session-end", type=parse_utc, help="session end for coverage (default: --end)")
    parser.add_argument("--out", required=True, type=Path, help="run directory receiving the dump and marker")
    parser.add_argument("--run-token", help="names the replay_topic of each line")
    add_source_topic_args(parser)
    parser.add_argument("--force", action="store_true", help="re-dump even when a verified dump exists")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Dump (or reuse) and print the marker summary as JSON."""
    topics = source_topics_from_args(args)
    if args.run_token is not None:
        # The dump only reads Kafka, but the replay topic it writes into every line must be a run's own.
        guard_mutation(dumped_topics_mutation("dump", args.run_token, topics.values()))
    paths = RunPaths(args.out)
    request = DumpRequest(
        window_start=args.start,
        window_end=args.end,
        dump_path=paths.dump,
        marker_path=paths.dump_marker,
        session_start=args.session_start,
        session_end=args.session_end,
        source_topics=topics,
        run_token=args.run_token,
    )
    result = dump_source(connection_from_args(args), request, force=args.force, progress=terminal_progress())
    marker = result.marker
    summary = {
        "dump": str(result.dump_path),
        "marker": str(result.marker_path),
        "reused": result.reused,
        "status": marker.status,
        "records": marker.records,
        "records_by_topic": marker.records_by_topic,
        "coverage_ratio": marker.coverage.ratio,
        "payload_sha256": marker.payload_sha256,
    }
    print(json.dumps(summary, indent=2))
    return 0
