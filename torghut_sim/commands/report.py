"""`torghut-sim report`: build the simulation report bundle of one run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from torghut_sim.report import build_report

# Exit code when the verdict reaches the `--fail-on` level (0 ok, 1 refused and 2 usage are the CLI's).
EXIT_VERDICT = 3
_LEVELS = {"PASS": 0, "WARN": 1, "FAIL": 2}
_THRESHOLDS = {"never": 3, "warn": 1, "fail": 2}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `report --run-dir DIR [--out DIR] [--fail-on never|warn|fail] [--no-charts]`."""
    parser = subparsers.add_parser("report", help="build the simulation report of a run directory")
    parser.add_argument(
        "--run-dir", type=Path, required=True, help="the run directory <output_root>/<run_token>"
    )
    parser.add_argument("--out", type=Path, default=None, help="report directory (default <run-dir>/report)")
    parser.add_argument(
        "--fail-on",
        choices=sorted(_THRESHOLDS),
        default="never",
        help=f"exit {EXIT_VERDICT} when the verdict is at least this bad (default never)",
    )
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts (faster, for CI)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the report, print the verdict and the JSON path; the exit code follows `--fail-on`."""
    result = build_report(args.run_dir, args.out, with_charts=not args.no_charts)
    verdict = result.verdict
    codes = ",".join(r.code for r in result.report.verdict.reasons)
    print(f"{verdict}{' ' + codes if codes else ''} {result.json_path}")
    return EXIT_VERDICT if _LEVELS[verdict] >= _THRESHOLDS[args.fail_on] else 0
