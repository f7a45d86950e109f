"""What the demo prints at the end: the day's verdict, its figures, and where to look next."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from torghut_sim.layout import run_paths
from torghut_sim.naming import names_for_day
from torghut_sim.report.catalog import CATALOG_NAME

# Where `dg dev` serves the UI by default.
UI_BASE = "http://127.0.0.1:3000"


def day_page(asset: str, day: str, base: str = UI_BASE) -> str:
    """The UI page of one asset's partition: the day's materialization, its metadata and its checks."""
    return f"{base}/assets/{asset}?view=partitions&partition={day}"


def summary_lines(report: dict[str, Any], report_dir: Path, catalog: Path, day: str) -> list[str]:
    """The lines to print for one day's report."""
    verdict = report["verdict"]
    pnl, funnel = report["pnl"], report["funnel"]
    lines = [
        f"verdict: {verdict['status']}",
        *(f"  - {r['severity']}: {r['code']}: {r['message']}" for r in verdict["reasons"]),
        f"decisions: {funnel.get('decisions')}  executions: {funnel.get('executions')}",
        f"P&L realized {pnl['realized']}  unrealized {pnl['unrealized']}  net {pnl['net']}",
        f"report: {report_dir / 'simulation-report.md'}",
        f"json:   {report_dir / 'simulation-report.json'}",
        "open the Dagster UI:   source scripts/local-env.sh && .venv/bin/dg dev",
        f"then this day's page:  {day_page('simulation_report', day)}",
        f'query every day:      .venv/bin/duckdb {catalog} "SELECT * FROM verdicts"',
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary of a day's report under TORGHUT_SIM_OUTPUT_ROOT; exit 1 when there is none."""
    parser = argparse.ArgumentParser(prog="torghut_sim.demo_summary", description=__doc__)
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--sequence", type=int, default=int(os.environ.get("TORGHUT_SIM_SEQUENCE", "1")))
    parser.add_argument(
        "--output-root", type=Path, default=Path(os.environ.get("TORGHUT_SIM_OUTPUT_ROOT", "."))
    )
    args = parser.parse_args(argv)
    names = names_for_day(args.day, args.sequence)
    report_dir = run_paths(args.output_root, names.run_token).report_dir
    report_file = report_dir / "simulation-report.json"
    if not report_file.exists():
        print(f"no report for {args.day.isoformat()} at {report_file}", file=sys.stderr)
        return 1
    report = json.loads(report_file.read_text())
    print(f"{names.run_id} ({args.day.isoformat()})")
    for line in summary_lines(report, report_dir, args.output_root / CATALOG_NAME, args.day.isoformat()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
