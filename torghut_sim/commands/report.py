"""`torghut-sim report`: build the report of one run directory, or the period report of a range of days."""

from __future__ import annotations

import argparse
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from torghut_sim.naming import MAX_SEQUENCE
from torghut_sim.report.model import format_decimal

if TYPE_CHECKING:
    from torghut_sim.report.period import PeriodResult

# Exit code when the verdict reaches the `--fail-on` level (0 ok, 1 refused and 2 usage are the CLI's).
EXIT_VERDICT = 3
_LEVELS = {"PASS": 0, "WARN": 1, "FAIL": 2}
_THRESHOLDS = {"never": 3, "warn": 1, "fail": 2}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _sequence(text: str) -> int:
    number = int(text)
    if not 1 <= number <= MAX_SEQUENCE:
        raise argparse.ArgumentTypeError(f"sequence must be 1..{MAX_SEQUENCE}")
    return number


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `report (--run-dir DIR | --output-root DIR --from-date D1 --to-date D2) [options]`."""
    parser = subparsers.add_parser(
        "report", help="build the report of a run directory, or the period report of a range of days"
    )
    parser.add_argument("--run-dir", type=Path, help="one run directory <output_root>/<run_token>")
    parser.add_argument("--from-date", type=_date, help="first day of a period report (YYYY-MM-DD)")
    parser.add_argument("--to-date", type=_date, help="last day of a period report (inclusive)")
    parser.add_argument("--output-root", type=Path, help="where the days' run directories are (with a range)")
    parser.add_argument("--sequence", type=_sequence, default=1, help="run number of each day (default 1)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report directory (default <run-dir>/report, or <output-root>/periods/<from>_<to>)",
    )
    parser.add_argument(
        "--fail-on",
        choices=sorted(_THRESHOLDS),
        default="never",
        help=f"exit {EXIT_VERDICT} when the verdict (of a range: the worst day's) is at least this bad",
    )
    parser.add_argument("--no-charts", action="store_true", help="skip the SVG charts")
    parser.set_defaults(handler=partial(_handle, parser))


def _handle(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """A day's report with `--run-dir`, a period's with a date range; anything else is a usage error."""
    ranged = args.from_date is not None or args.to_date is not None
    if args.run_dir is not None:
        if ranged or args.output_root is not None:
            parser.error("--run-dir cannot be combined with --from-date/--to-date/--output-root")
        return run(args)
    if args.from_date is None or args.to_date is None or args.output_root is None:
        parser.error("give --run-dir, or --output-root with both --from-date and --to-date")
    return run_period(args)


def _exit_code(verdict: str | None, fail_on: str) -> int:
    if verdict is None:
        return 0
    return EXIT_VERDICT if _LEVELS[verdict] >= _THRESHOLDS[fail_on] else 0


def run(args: argparse.Namespace) -> int:
    """Build the report, print the verdict and the JSON path; the exit code follows `--fail-on`."""
    # Imported here: the report's dataframe stack costs most of a second that other commands never pay.
    from torghut_sim.report import build_report  # noqa: PLC0415

    result = build_report(args.run_dir, args.out, with_charts=not args.no_charts)
    verdict = result.verdict
    codes = ",".join(r.code for r in result.report.verdict.reasons)
    print(f"{verdict}{' ' + codes if codes else ''} {result.json_path}")
    return _exit_code(verdict, args.fail_on)


def period_line(result: PeriodResult) -> str:
    """One line of a period: days reported, verdicts, other statuses, net P&L, drawdown, JSON path."""
    report = result.report
    totals = report.totals
    verdicts = ", ".join(f"{k} {v}" for k, v in totals.verdict_counts.items() if v)
    others = ", ".join(f"{k} {v}" for k, v in totals.status_counts.items() if v and k != "reported")
    counts = "; ".join(part for part in (verdicts, others) if part)
    return (
        f"period {report.period.period_id}: {totals.days_reported}/{totals.days_listed} days reported "
        f"({counts}), net {format_decimal(totals.net)}, "
        f"max drawdown {format_decimal(report.drawdown.max_drawdown)} {result.json_path}"
    )


def run_period(args: argparse.Namespace) -> int:
    """Build the period report of the range, print its line; `--fail-on` looks at the worst day."""
    from torghut_sim.report.period import build_period_report  # noqa: PLC0415

    result = build_period_report(
        args.output_root,
        args.from_date,
        args.to_date,
        sequence=args.sequence,
        out_dir=args.out,
        with_charts=not args.no_charts,
    )
    print(period_line(result))
    verdicts = [d.verdict for d in result.report.days if d.verdict is not None]
    worst = max(verdicts, key=_LEVELS.__getitem__, default=None)
    return _exit_code(worst, args.fail_on)
