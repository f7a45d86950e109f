"""Benchmark of a partition backfill on the local stack, launched over GraphQL as the Dagster UI does.

    .venv/bin/python benchmarks/backfill_bench.py [--days 5] [--empty 3] [--start 2026-06-01]
    .venv/bin/python benchmarks/backfill_bench.py --days 6 --empty 0 --lanes 2

Seeds N consecutive trading days (all but one, which stays empty; `--empty 0`: none) into the production
source topics, starts `dg dev` (webserver and daemon) on a throwaway instance, launches
`launchPartitionBackfill` over the day assets, waits, and prints per day the run's wall time, each step's
work (from the event log), the wait for the runtime pool and the remaining orchestration overhead; for
the backfill its wall time, its floor (first simulated day's steps before its simulation + the busiest
lane's simulations one after another + the last day's report) and the ratio; how long after the last
run the daemon's `reports_automation` sensor had built each week and month report of the days (each after
its own days' runs: a week done mid-backfill is built then) and then the catalog; and the code location's
load time. `--lanes 2` runs the same backfill twice, from a clean
start each time: on the stack's one runtime, then on two lanes (a second reference runtime in its own
namespace), and prints the two-lane time over the one-lane time. Needs `devstack up` (all services) and
`devstack baseline` first; it clears the source topics (`seed-day --reset`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from benchmarks.backfill_stack import (
    PRIMARY_NAMESPACE,
    REPO,
    Floor,
    RunTiming,
    backfill_created,
    backfill_floor,
    backfill_timings,
    dagster_database,
    dagster_stack,
    derived_ready,
    drop_days_stores,
    extra_runtime,
    failure_reason,
    lane_handoffs,
    lanes_file_for,
    launch_backfill,
    lock_overlaps,
    seed_days,
    timings_table,
    wait_backfill,
    write_home,
)
from resources import runtime_pool
from resources.deployment import DEFAULT_RUNTIME_LANE
from sensors.lanes import sync_pool_limit
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


# The automation sensor ticks every 30 s, and the catalog waits for the period reports it reads.
DERIVED_TIMEOUT = 300.0


@dataclass(frozen=True)
class Measured:
    """One backfill's outcome and figures."""

    lanes: int
    backfill_id: str
    status: str
    timings: list[RunTiming]
    failures: dict[str, str]
    floor: Floor
    runs_wall: float
    status_wall: float
    created: float
    output_root: Path
    # When the period reports and the catalog were rebuilt by the daemon (None: not within the timeout).
    derived: float | None = None


def measure(days: list[date], lanes: int, root: Path, logs: Path, timeout: float) -> Measured:
    """One backfill of `days` on `lanes` runtime lanes, from a clean start (instance, run stores, outputs)."""
    config = StackConfig()
    postgres = service("postgres", config)
    kube = service("kube", config)
    kubeconfig = Path(kube.kubeconfig_path)  # type: ignore[attr-defined]
    with dagster_database(postgres.dsn()) as database, ExitStack() as stack:  # type: ignore[attr-defined]
        home = root / f"dagster_home_{lanes}"
        write_home(home)
        env = host_pipeline_env(home, database, root / f"simulations_{lanes}", kubeconfig)
        if lanes > 1:
            extra = [
                stack.enter_context(
                    extra_runtime(kubeconfig, f"torghut-bench-lane{i}", env, logs / f"runtime-lane{i}.log")
                )
                for i in range(2, lanes + 1)
            ]
            env["TORGHUT_SIM_RUNTIME_LANES_FILE"] = str(
                lanes_file_for([PRIMARY_NAMESPACE, *extra], root / f"lanes-{lanes}.yaml")
            )
        drop_days_stores(days, env, postgres.dsn())  # type: ignore[attr-defined]
        with dagster_stack(env, logs / f"dg-dev-{lanes}.log") as dagster:
            with _instance(env) as instance:
                # What the daemon's `runtime_lane_pool` sensor does on its first tick: one slot per lane.
                sync_pool_limit(instance, runtime_pool(DEFAULT_RUNTIME_LANE), lanes)
            began = time.monotonic()
            backfill_id = launch_backfill(dagster, days)
            status, seen_at = wait_backfill(dagster, backfill_id, timeout)
            with _instance(env) as instance:
                timings = backfill_timings(instance, backfill_id)
                created = backfill_created(instance, backfill_id, timings)
                failures = {
                    t.day: failure_reason(instance, t.run_id) for t in timings if t.status != "SUCCESS"
                }
                deadline = time.monotonic() + DERIVED_TIMEOUT
                derived = derived_ready(instance, timings)
                while derived is None and time.monotonic() < deadline:
                    time.sleep(2)
                    derived = derived_ready(instance, timings)
    return Measured(
        lanes,
        backfill_id,
        status,
        timings,
        failures,
        backfill_floor(timings),
        max(t.end for t in timings) - created,
        seen_at - began,
        created,
        root / f"simulations_{lanes}",
        derived,
    )


def report(m: Measured, empty: date | None) -> None:
    """Print one backfill's figures."""
    blank = empty.isoformat() if empty else "none"
    print(
        f"backfill {m.backfill_id} on {m.lanes} lane(s): {m.status}, {len(m.timings)} days (empty: {blank})"
    )
    print("\n".join(timings_table(m.timings)))
    for failed_day, reason in m.failures.items():
        print(f"{failed_day} did not succeed: {reason}")
    floor = m.floor
    if floor.total <= 0:
        print("no day was simulated: no floor to compare with")
        return
    print(
        f"floor {floor.total:.1f}s = before first simulation {floor.before_first_simulation:.1f}"
        f" + busiest lane's simulations {floor.simulations:.1f} + last report {floor.last_report:.1f}"
    )
    print(
        f"backfill wall (launch -> last run ended) {m.runs_wall:.1f}s, ratio {m.runs_wall / floor.total:.2f}"
    )
    print(
        f"backfill wall (launch -> {m.status} seen) {m.status_wall:.1f}s,"
        f" ratio {m.status_wall / floor.total:.2f}"
    )
    print(f"days holding one lane's runtime at once: {lock_overlaps(m.timings, m.output_root) or 'none'}")
    last_end = max(t.end for t in m.timings)
    print(
        "period reports and catalog rebuilt by the daemon: "
        + (
            f"{m.derived - last_end:.1f}s after the last run ended"
            if m.derived is not None
            else f"not within {DERIVED_TIMEOUT:.0f}s of the last run's end"
        )
    )
    first = min(t.start for t in m.timings) - m.created
    # The backfill daemon looks at backfills every 30 s (not configurable): this part is 0-30 s.
    pickup = min(t.created for t in m.timings) - m.created
    gaps = ", ".join(f"{g:.1f}" for g in lane_handoffs(m.timings)) or "none"
    print(
        f"launch -> first run started {first:.1f}s (of which the backfill daemon's pickup {pickup:.1f}s);"
        f" lane handoffs (a simulation's end -> the next's start): {gaps}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--days", type=int, default=5, help="trading days in the backfill")
    parser.add_argument("--empty", type=int, default=3, help="which day (1-based) stays empty; 0: none")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 6, 1))
    parser.add_argument("--symbols", type=int, default=3, help="symbols per seeded day")
    parser.add_argument(
        "--lanes", type=int, default=1, help="runtime lanes; above 1, also the one-lane run, for the ratio"
    )
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--dir", type=Path, help="keep logs and outputs here (default: a temp dir)")
    args = parser.parse_args(argv)

    days = choose_days(args.start, args.days)
    empty = days[args.empty - 1] if args.empty > 0 else None
    root = args.dir or Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    load = load_seconds()
    # Seeding talks to Kafka only: the instance parts of this environment are not used.
    seed_env = host_pipeline_env(root / "dagster_home_seed", "unused", root / "unused", root / "unused")
    seed_days([d for d in days if d != empty], seed_env, args.symbols, logs)
    runs = [measure(days, lanes, root, logs, args.timeout) for lanes in sorted({1, args.lanes})]
    for m in runs:
        report(m, empty)
    if len(runs) > 1:
        one, many = runs[0], runs[-1]
        print(
            f"{many.lanes} lanes / 1 lane: launch -> last run ended {many.runs_wall:.1f}/{one.runs_wall:.1f}s"
            f" = {many.runs_wall / one.runs_wall:.2f}; launch -> status seen"
            f" {many.status_wall:.1f}/{one.status_wall:.1f}s = {many.status_wall / one.status_wall:.2f}"
        )
    print(f"code location load (python -c 'import torghut_sim.definitions', median of 3): {load:.2f}s")
    print(f"logs and outputs: {root}")
    return 0 if all(m.status == "COMPLETED_SUCCESS" for m in runs) else 1


def _instance(env: dict[str, str]) -> dg.DagsterInstance:
    """The benchmark's Dagster instance, read from its DAGSTER_HOME and database."""
    import os  # noqa: PLC0415 - only here

    os.environ.update({k: v for k, v in env.items() if k.startswith(("DAGSTER_", "TORGHUT_"))})
    return dg.DagsterInstance.get()


if __name__ == "__main__":
    sys.exit(main())
