"""`devstack seed-day`: fill the local production source topics with one generated historical market day."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.market_day import PRODUCTION_SOURCE_TOPICS, SCALE_RATES, SeedRequest, seed_day
from torghut_sim.devstack.market_walk import LIVE_SYMBOLS, DaySpec, Gap

COMMAND = "seed-day"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `seed-day` subcommand to the `devstack` parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        COMMAND, help="produce a generated historical market day into the local source topics"
    )
    p.add_argument("day", type=date.fromisoformat, help="trading day, YYYY-MM-DD")
    p.add_argument(
        "--symbols", type=int, default=len(LIVE_SYMBOLS), help="how many of the live symbols (default all 10)"
    )
    p.add_argument("--symbol-list", default="", help="comma-separated symbols instead of the live universe")
    p.add_argument(
        "--scale",
        choices=sorted(SCALE_RATES),
        default="small",
        help="small ≈ 200k records, full ≈ 3M records",
    )
    p.add_argument(
        "--rate", type=float, default=None, help="mean trades per symbol per second (overrides --scale)"
    )
    p.add_argument("--gaps", default="", help="quiet gaps, New York time: HH:MM/MINUTES[,HH:MM/MINUTES]")
    p.add_argument("--seed", type=int, default=DaySpec.seed)
    p.add_argument("--no-edges", action="store_true", help="no records just outside the session")
    p.add_argument("--no-disorder", action="store_true", help="strictly increasing timestamps")
    p.add_argument("--malformed", type=int, default=DaySpec.malformed, help="how many malformed values")
    p.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="ROLE=TOPIC",
        help="override a target topic (roles: trades, quotes, bars, status)",
    )
    p.add_argument("--bootstrap-servers", default=None, help="default: the local stack's Kafka")
    p.add_argument("--force", action="store_true", help="seed again even when a marker says it was done")
    p.add_argument(
        "--reset",
        action="store_true",
        help="when the day would land behind records of its date or later, delete every record of the "
        "topics (and their seed markers) first",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def spec_from_args(args: argparse.Namespace) -> DaySpec:
    """The generated day the arguments describe."""
    symbols = (
        tuple(s.strip().upper() for s in args.symbol_list.split(",") if s.strip())
        or LIVE_SYMBOLS[: max(1, args.symbols)]
    )
    gaps = tuple(Gap.parse(g) for g in args.gaps.split(",") if g.strip())
    rate = args.rate if args.rate is not None else SCALE_RATES[args.scale]
    return DaySpec(
        day=args.day,
        symbols=symbols,
        trade_rate=rate,
        gaps=gaps,
        seed=args.seed,
        edges=not args.no_edges,
        disorder=not args.no_disorder,
        malformed=max(0, args.malformed),
    )


def run(args: argparse.Namespace, config: StackConfig) -> int:
    """Handle `devstack seed-day`."""
    topics = dict(PRODUCTION_SOURCE_TOPICS)
    for item in args.topic:
        role, _, topic = item.partition("=")
        if role not in topics or not topic:
            print(
                f"devstack: --topic {item!r}: expected ROLE=TOPIC with ROLE in {sorted(topics)}",
                file=sys.stderr,
            )
            return 2
        topics[role] = topic
    bootstrap = args.bootstrap_servers or f"{config.host}:{config.ports.kafka}"
    request = SeedRequest(
        spec=spec_from_args(args),
        bootstrap_servers=bootstrap,
        marker_dir=config.state_dir / "seed-day",
        topics=topics,
        force=args.force,
        reset=args.reset,
    )
    result = seed_day(request)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        print(f"seed-day: {result.status}: {result.message}")
    return 0


HANDLERS = {COMMAND: run}
