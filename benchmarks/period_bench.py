"""Benchmark of the period report over 60 trading days; prints wall time, peak RSS and a same-run baseline.

    .venv/bin/python benchmarks/period_bench.py [--dir DIR] [--days 60] [--decisions 2000] [--no-charts]

Generates `--days` trading days from 2026-01-02 with the report benchmark's day generator (small days:
the period reads the day reports, not the exports), reports each, leaves one day empty and one failed,
then builds the period report in a fresh process. The baseline, measured in that process first, is what
any period report must at least do: read and parse every day's `simulation-report.json`. Target: the
period report of 60 days in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.report_bench import generate
from torghut_sim.calendar import trading_days
from torghut_sim.layout import RunPaths
from torghut_sim.naming import names_for_day
from torghut_sim.report import build_report
from torghut_sim.report.period import build_period_report
from torghut_sim.report.writer import JSON_NAME

FIRST_DAY = date(2026, 1, 2)
EMPTY_AT, FAILED_AT = 10, 20  # indexes of the days left empty and failed


def bench_days(count: int) -> list[date]:
    """The first `count` trading days from FIRST_DAY."""
    return trading_days(FIRST_DAY, FIRST_DAY + timedelta(days=2 * count + 30))[:count]


def prepare(root: Path, days: list[date], decisions: int) -> None:
    """Run directories of every day: reported, except one empty and one failed after its report."""
    for index, day in enumerate(days):
        paths = RunPaths(root / names_for_day(day).run_token)
        if (paths.report_dir / JSON_NAME).is_file() or paths.dump_marker.is_file():
            continue
        if index == EMPTY_AT:
            paths.root.mkdir(parents=True, exist_ok=True)
            paths.dump_marker.write_text(json.dumps({"status": "empty_day", "records": 0}))
            continue
        generate(paths.root, day=day, decisions=decisions, seed=index)
        build_report(paths.root, with_charts=False)
        if index == FAILED_AT:
            failed = {"phase": "run", "status": "failed", "details": {"failed_phase": "monitor"}}
            paths.run_state.write_text(json.dumps({"status": "failed", "transitions": [failed]}))


def build(root: Path, days: list[date], charts: bool) -> None:
    """Time the baseline (parse every day report), then the period report; print both and peak RSS."""
    start = time.perf_counter()
    parsed = 0
    for day in days:
        path = RunPaths(root / names_for_day(day).run_token).report_dir / JSON_NAME
        if path.is_file():
            json.loads(path.read_bytes())
            parsed += 1
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    result = build_period_report(root, days[0], days[-1], with_charts=charts)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    totals = result.report.totals
    print(
        f"baseline (json.loads of {parsed} day reports): {baseline:.3f} s\n"
        f"build_period_report ({len(days)} trading days, charts {'on' if charts else 'off'}): {wall:.2f} s "
        f"wall, {wall / baseline:.1f} x baseline, peak RSS {peak_mb:.0f} MB\n"
        f"days reported {totals.days_reported}/{totals.days_listed} "
        f"{ {k: v for k, v in totals.status_counts.items() if v} }, "
        f"max drawdown {result.report.drawdown.max_drawdown} "
        f"({result.report.drawdown.peak_day} → {result.report.drawdown.trough_day}); target < 10 s: "
        f"{'met' if wall < 10 else 'MISSED'}"
    )


def main() -> int:
    """Prepare the days (unless present) and build the period report in a child process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="output root (default: a temp dir)")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--decisions", type=int, default=2000, help="decisions per generated day")
    parser.add_argument("--no-charts", action="store_true")
    parser.add_argument("--phase", choices=["all", "build"], default="all", help=argparse.SUPPRESS)
    args = parser.parse_args()
    days = bench_days(args.days)
    if args.phase == "build":
        build(args.dir, days, charts=not args.no_charts)
        return 0
    with tempfile.TemporaryDirectory(prefix="period-bench-") as tmp:
        root = args.dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        prepare(root, days, args.decisions)
        print(f"prepared {len(days)} days under {root} in {time.perf_counter() - start:.1f} s")
        command = [sys.executable, "-m", "benchmarks.period_bench", "--phase", "build", "--dir", str(root)]
        command += ["--days", str(args.days)]
        if args.no_charts:
            command.append("--no-charts")
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
