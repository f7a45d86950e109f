"""Benchmark of a partition backfill on the local stack, launched over GraphQL as the Dagster UI does.

    .venv/bin/python benchmarks/backfill_bench.py [--days 5] [--empty 3] [--start 2026-06-01]

Seeds N consecutive trading days (all but one, which stays empty; all of them with `--empty 0`) into
the production source topics, starts `dg dev` (webserver and daemon) on a throwaway instance, launches
`launchPartitionBackfill` over the day assets, waits, and prints per day the run's wall time, each step's
work (from the event log), the wait for the runtime pool and the remaining orchestration overhead; for
the backfill its wall time, its floor (first simulated day's steps before its simulation + every
simulation one after another + the last day's report) and the ratio; and the code location's load time.
Needs `devstack up` (all services) and `devstack baseline` first; it clears the source topics
(`seed-day --reset`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from benchmarks.backfill_stack import (
    REPO,
    backfill_floor,
    backfill_timings,
    dagster_database,
    dagster_stack,
    failure_reason,
    lane_overlaps,
    launch_backfill,
    launch_to_last_run_end,
    prepare_days,
    timings_table,
    wait_backfill,
    write_home,
)
from torghut_sim.calendar import trading_days
from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.host_env import host_pipeline_env
from torghut_sim.devstack.registry import service


def load_seconds(repeat: int = 3) -> float:
    """Median wall time of a fresh interpreter importing the code location (what every run pays)."""
    times = []
    for _ in range(repeat):
        began = time.monotonic()
        subprocess.run([sys.executable, "-c", "import torghut_sim.definitions"], check=True, cwd=REPO)
        times.append(time.monotonic() - began)
    return statistics.median(times)


def choose_days(start: date, count: int) -> list[date]:
    """The first `count` trading days from `start`."""
    days = trading_days(start, start + timedelta(days=count * 2 + 10))[:count]
    if len(days) < count:
        raise SystemExit(f"fewer than {count} trading days after {start}")
    return days


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--days", type=int, default=5, help="trading days in the backfill")
    parser.add_argument("--empty", type=int, default=3, help="which day (1-based) stays empty; 0: none")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 6, 1))
    parser.add_argument("--symbols", type=int, default=3, help="symbols per seeded day")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--dir", type=Path, help="keep logs and outputs here (default: a temp dir)")
    args = parser.parse_args(argv)

    days = choose_days(args.start, args.days)
    empty = [days[args.empty - 1]] if args.empty else []
    root = args.dir or Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    config = StackConfig()
    postgres = service("postgres", config)
    kube = service("kube", config)
    load = load_seconds()

    admin_dsn: str = postgres.dsn()  # type: ignore[attr-defined]
    with dagster_database(admin_dsn) as database:
        home = root / "dagster_home"
        write_home(home)
        env = host_pipeline_env(home, database, root / "simulations", Path(kube.kubeconfig_path))  # type: ignore[attr-defined]
        prepare_days(days, empty, env, admin_dsn=admin_dsn, symbols=args.symbols, logs=logs)
        with dagster_stack(env, logs / "dg-dev.log") as stack:
            began = time.monotonic()
            backfill_id = launch_backfill(stack, days)
            status, seen_at = wait_backfill(stack, backfill_id, args.timeout)
            with _instance(env) as instance:
                timings = backfill_timings(instance, backfill_id)
                runs_wall = launch_to_last_run_end(instance, backfill_id, timings)
                failures = {
                    t.day: failure_reason(instance, t.run_id) for t in timings if t.status != "SUCCESS"
                }

    empties = ", ".join(d.isoformat() for d in empty) or "none"
    print(f"backfill {backfill_id}: {status}, {len(days)} days (empty: {empties})")
    print("\n".join(timings_table(timings)))
    for failed_day, reason in failures.items():
        print(f"{failed_day} did not succeed: {reason}")
    floor = backfill_floor(timings)
    status_wall = seen_at - began
    if floor.total <= 0:
        print("no day was simulated: no floor to compare with")
        return 1
    print(
        f"floor {floor.total:.1f}s = before first simulation {floor.before_first_simulation:.1f}"
        f" + simulations {floor.simulations:.1f} + last report {floor.last_report:.1f}"
    )
    print(f"backfill wall (launch -> last run ended) {runs_wall:.1f}s, ratio {runs_wall / floor.total:.2f}")
    print(
        f"backfill wall (launch -> {status} seen) {status_wall:.1f}s, ratio {status_wall / floor.total:.2f}"
    )
    print(f"simulations overlapping on the lane: {lane_overlaps(timings) or 'none'}")
    print(f"code location load (python -c 'import torghut_sim.definitions', median of 3): {load:.2f}s")
    print(f"logs and outputs: {root}")
    return 0 if status == "COMPLETED_SUCCESS" else 1


def _instance(env: dict[str, str]) -> dg.DagsterInstance:
    """The benchmark's Dagster instance, read from its DAGSTER_HOME and database."""
    import os  # noqa: PLC0415 - only here

    os.environ.update({k: v for k, v in env.items() if k.startswith(("DAGSTER_", "TORGHUT_"))})
    return dg.DagsterInstance.get()


if __name__ == "__main__":
    sys.exit(main())
