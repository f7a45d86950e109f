"""`torghut-sim plan`: print the validated JSON plan of one day or a date range, optionally write it.

Exit 0 when every guard passes, 1 when a guard refuses (the plan is still printed, nothing is written),
2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from functools import partial
from pathlib import Path

from torghut_sim.calendar import CalendarError
from torghut_sim.commands.exit_codes import EXIT_OK, EXIT_REFUSED
from torghut_sim.day_selection import CALENDAR_FILTERS, plan_batch
from torghut_sim.day_template import DEFAULT_TEMPLATE, load_template
from torghut_sim.naming import MAX_SEQUENCE
from torghut_sim.run_plan import batch_plan_data, plan_days, plan_json, write_day_plan


def _date(value: str) -> date:
    """A `YYYY-MM-DD` argument."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _int_in(value: str, low: int, high: int | None = None) -> int:
    """An integer argument within bounds."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < low or (high is not None and number > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise argparse.ArgumentTypeError(f"{number} is not {bound}")
    return number


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `plan` subcommand."""
    parser = subparsers.add_parser("plan", help="plan one trading day or a range (no side effects)")
    parser.add_argument("--date", type=_date, help="one New York date, YYYY-MM-DD")
    # The seed's spellings; the short `--from`/`--to` stay as aliases.
    parser.add_argument(
        "--from-date", "--from", dest="from_date", type=_date, help="first New York date of a range"
    )
    parser.add_argument(
        "--to-date", "--to", dest="to_date", type=_date, help="last New York date of a range (inclusive)"
    )
    parser.add_argument(
        "--sequence", type=partial(_int_in, low=1, high=MAX_SEQUENCE), default=1, help="run number of the day"
    )
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="day manifest template")
    parser.add_argument(
        "--calendar-filter",
        choices=CALENDAR_FILTERS,
        default="strict",
        help="strict: NYSE trading days only; skip-empty: every weekday, a day without records is empty",
    )
    parser.add_argument("--pre-buffer-minutes", type=partial(_int_in, low=0), default=0)
    parser.add_argument("--post-buffer-minutes", type=partial(_int_in, low=0), default=0)
    parser.add_argument(
        "--max-parallel-days",
        type=partial(_int_in, low=1),
        default=1,
        help="days per batch whose dumps may run side by side",
    )
    parser.add_argument("--output-root", help="run directories go under this (default: the template's)")
    writes = parser.add_mutually_exclusive_group()
    writes.add_argument("--write", action="store_true", help="write manifest.yaml and plan.json per day")
    writes.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan only, write nothing (the default without --write)",
    )
    parser.set_defaults(handler=partial(_handle, parser))


def _range(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[date, date]:
    """The inclusive date range asked for; any inconsistency is a usage error."""
    if args.date is not None:
        if args.from_date is not None or args.to_date is not None:
            parser.error("--date cannot be combined with --from-date/--to-date")
        return args.date, args.date
    if args.from_date is None or args.to_date is None:
        parser.error("give --date, or both --from-date and --to-date")
    if args.from_date > args.to_date:
        parser.error(f"--from-date {args.from_date} is after --to-date {args.to_date}")
    return args.from_date, args.to_date


def _handle(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Plan, print, and write when asked and every guard passed."""
    first, last = _range(parser, args)
    if not args.template.is_file():
        parser.error(f"template {args.template} does not exist")
    template = load_template(args.template)
    batch = plan_batch(
        first,
        last,
        args.calendar_filter,
        args.max_parallel_days,
        args.pre_buffer_minutes,
        args.post_buffer_minutes,
    )
    if args.date is not None and not batch.days:
        why = batch.skipped[0].reason
        raise CalendarError(
            f"{args.date.isoformat()} is not an NYSE trading day ({why}; calendar filter "
            f"{args.calendar_filter})",
            reason="not_a_trading_day",
        )
    plans = plan_days(batch, template, args.sequence, args.output_root)
    data = plans[0].data if args.date is not None else batch_plan_data(batch, plans, args.sequence)
    sys.stdout.write(plan_json(data))
    for plan in plans:
        refusal = plan.refusal()
        if refusal is not None:
            print(f"torghut-sim: {plan.names.run_id}: {refusal}", file=sys.stderr)
            return EXIT_REFUSED
    if args.write:
        for plan in plans:
            write_day_plan(plan)
    return EXIT_OK
