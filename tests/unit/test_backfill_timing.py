"""The backfill benchmark's arithmetic: work, pool wait and overhead per run, floor, overlaps, table."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.backfill_stack import (
    SIMULATE_STEP,
    RunTiming,
    StepSpan,
    backfill_floor,
    lane_handoffs,
    lane_overlaps,
    lanes_file_for,
    lock_interval,
    period_keys,
    periods_owed,
    timings_table,
)


def _day(day: str, start: float, steps: list[tuple[str, float, float]], end: float) -> RunTiming:
    return RunTiming(day, f"run-{day}", "SUCCESS", start, end, [StepSpan(k, a, b) for k, a, b in steps])


FIRST = _day(
    "2026-06-01",
    0.0,
    [
        ("simulation_manifest", 1, 2),
        ("source_dump", 2, 5),
        (SIMULATE_STEP, 6, 40),
        ("simulation_report", 41, 43),
    ],
    44.0,
)
EMPTY = _day(
    "2026-06-02", 0.5, [("simulation_manifest", 1, 2), ("source_dump", 2, 4), ("simulation_report", 4, 6)], 7
)
# Waited for the pool from 5 to 41 while the first day simulated.
SECOND = _day(
    "2026-06-03",
    0.2,
    [
        ("simulation_manifest", 1, 2),
        ("source_dump", 2, 5),
        (SIMULATE_STEP, 41, 70),
        ("simulation_report", 71, 74),
    ],
    75.0,
)


def test_a_run_splits_into_work_pool_wait_and_overhead() -> None:
    assert (SECOND.wall, SECOND.work, SECOND.pool_wait) == (74.8, 36.0, 36.0)
    assert round(SECOND.overhead, 6) == 2.8
    assert EMPTY.simulation is None and EMPTY.pool_wait == 0.0


def test_the_floor_is_first_setup_plus_every_simulation_plus_last_report() -> None:
    floor = backfill_floor([SECOND, EMPTY, FIRST])
    assert (floor.before_first_simulation, floor.simulations, floor.last_report) == (4.0, 63.0, 3.0)
    assert floor.total == 70.0
    assert backfill_floor([EMPTY]).total == 0.0


def test_overlapping_simulations_on_one_lane_are_named() -> None:
    assert lane_overlaps([FIRST, EMPTY, SECOND]) == []
    early = _day("2026-06-04", 0, [(SIMULATE_STEP, 30, 50)], 51)
    assert lane_overlaps([FIRST, SECOND, early]) == [
        ("2026-06-01", "2026-06-04"),
        ("2026-06-04", "2026-06-03"),
    ]


def test_the_table_has_a_row_per_day_with_its_figures_and_steps() -> None:
    header, first, empty = timings_table([FIRST, EMPTY])
    assert header.split() == ["day", "status", "lane", "wall", "work", "pool", "overhead", "steps", "(s)"]
    assert first.split()[:7] == ["2026-06-01", "SUCCESS", "-", "44.0", "40.0", "1.0", "3.0"]
    assert first.endswith(
        "simulation_manifest 1.0, source_dump 3.0, simulate_on_runtime 34.0, simulation_report 2.0"
    )
    assert empty.split()[:7] == ["2026-06-02", "SUCCESS", "-", "6.5", "5.0", "0.0", "1.5"]


def test_two_lanes_floor_counts_the_busiest_lane_and_overlaps_only_within_a_lane() -> None:
    third = _day(
        "2026-06-04", 0.1, [("source_dump", 2, 5), (SIMULATE_STEP, 6, 30), ("simulation_report", 31, 32)], 33
    )
    days = [replace(FIRST, lane="primary"), replace(SECOND, lane="primary"), replace(third, lane="lane2")]
    floor = backfill_floor(days)
    # primary: 34 + 29 s; lane2: 24 s. The last simulation to end is SECOND's (report 3 s).
    assert (floor.before_first_simulation, floor.simulations, floor.last_report) == (4.0, 63.0, 3.0)
    # FIRST and the third day simulate at once, on different lanes: no overlap.
    assert lane_overlaps(days) == []
    assert lane_overlaps([*days[:2], replace(third, lane="primary")]) == [("2026-06-01", "2026-06-04")]
    # The primary lane's one handoff: FIRST ends at 40, SECOND starts at 41.
    assert lane_handoffs(days) == [1.0]


def test_the_lock_interval_is_lock_started_to_the_last_unlock_succeeded(tmp_path: Path) -> None:
    state = tmp_path / "run-state.json"
    transitions = [
        {"phase": "lock", "status": "started", "at": "2026-06-01T14:00:00Z"},
        {"phase": "lock", "status": "succeeded", "at": "2026-06-01T14:00:01Z"},
        {"phase": "unlock", "status": "succeeded", "at": "2026-06-01T14:05:00Z"},
    ]
    state.write_text(json.dumps({"transitions": transitions}))
    assert lock_interval(state) == (
        datetime(2026, 6, 1, 14, 0, tzinfo=UTC),
        datetime(2026, 6, 1, 14, 5, tzinfo=UTC),
    )
    state.write_text(json.dumps({"transitions": transitions[:2]}))
    assert lock_interval(state) is None
    assert lock_interval(tmp_path / "absent.json") is None


def test_the_lanes_file_names_the_primary_runtime_first_and_lets_only_it_manage_argocd(
    tmp_path: Path,
) -> None:
    from torghut_sim.lanes import load_lanes

    lanes = load_lanes(lanes_file_for(["torghut", "torghut-bench-lane2"], tmp_path / "lanes.yaml"))
    assert [(lane.name, lane.namespace, lane.manage_argocd) for lane in lanes] == [
        ("primary", "torghut", True),
        ("lane2", "torghut-bench-lane2", False),
    ]


def test_the_periods_of_a_backfill_are_its_days_mondays_and_months() -> None:
    # Friday 2026-05-29, then Monday 2026-06-01 and Tuesday 2026-06-02: two weeks, two months.
    days = [date(2026, 5, 29), date(2026, 6, 1), date(2026, 6, 2)]
    assert period_keys(days) == {
        "weekly_period_report": {"2026-05-25", "2026-06-01"},
        "monthly_period_report": {"2026-05-01", "2026-06-01"},
    }


def test_a_period_is_owed_after_the_last_run_of_its_own_days() -> None:
    # Friday 05-29 ends first, Monday 06-01 next, Tuesday 06-02 last: week 05-25 (and month 05) is owed
    # after Friday's run, not after the backfill's last run; week 06-01 and month 06 after Tuesday's.
    timings = [
        _day("2026-06-01", 100.0, [], 190.0),
        _day("2026-05-29", 0.0, [], 90.0),
        _day("2026-06-02", 200.0, [], 290.0),
    ]
    assert periods_owed(timings) == {
        ("weekly_period_report", "2026-05-25"): 90.0,
        ("monthly_period_report", "2026-05-01"): 90.0,
        ("weekly_period_report", "2026-06-01"): 290.0,
        ("monthly_period_report", "2026-06-01"): 290.0,
    }
