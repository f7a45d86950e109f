"""Judging a run lock's holder alive or dead from its heartbeat, on the observer's clock."""

from __future__ import annotations

from datetime import UTC, datetime

from torghut_sim.runtime.liveness import NO_HEARTBEAT_LEASE_SECONDS, Sighting, judge
from torghut_sim.runtime.lock import LockInfo, parse_lock

T0 = 1_000_000.0


def _holder(version: str = "10", lease: int = 180, heartbeat: bool = True, run_id: str = "sim-1") -> LockInfo:
    data = {"run_id": run_id, "owner": "dagster:abc", "acquired_at": "2026-03-06T14:00:00Z"}
    if heartbeat:
        data |= {"heartbeat_at": "2026-03-06T14:00:00Z", "lease_seconds": str(lease)}
    return parse_lock({"metadata": {"resourceVersion": version}, "data": data})


def test_a_lock_seen_first_is_alive_and_remembered() -> None:
    verdict = judge(_holder(), None, T0)
    assert not verdict.dead
    assert verdict.sighting == Sighting("sim-1", "10", T0)


def test_an_unchanged_lock_is_dead_only_after_its_lease() -> None:
    seen = Sighting("sim-1", "10", T0)
    assert not judge(_holder(), seen, T0 + 180).dead
    late = judge(_holder(), seen, T0 + 181)
    assert late.dead and "no heartbeat for 181s (lease 180s)" in late.reason
    # The sighting keeps its first time, so the silence keeps counting across ticks.
    assert late.sighting.since == T0


def test_a_renewed_lock_restarts_the_count() -> None:
    seen = Sighting("sim-1", "10", T0)
    verdict = judge(_holder(version="11"), seen, T0 + 500)
    assert not verdict.dead and verdict.sighting == Sighting("sim-1", "11", T0 + 500)


def test_another_run_holding_the_lock_is_a_new_sighting() -> None:
    seen = Sighting("sim-1", "10", T0)
    assert not judge(_holder(run_id="sim-2"), seen, T0 + 500).dead


def test_a_finished_owner_run_is_dead_at_once() -> None:
    verdict = judge(_holder(), None, T0, owner_finished=True)
    assert verdict.dead and verdict.reason == "owner_run_finished"


def test_a_lock_without_heartbeat_gets_the_old_max_age() -> None:
    seen = Sighting("sim-1", "10", T0)
    assert not judge(_holder(heartbeat=False), seen, T0 + 3600).dead
    assert judge(_holder(heartbeat=False), seen, T0 + NO_HEARTBEAT_LEASE_SECONDS + 1).dead


def test_sightings_round_trip_and_malformed_ones_are_ignored() -> None:
    seen = Sighting("sim-1", "10", T0)
    assert Sighting.from_json(seen.to_json()) == seen
    assert Sighting.from_json({"run_id": "x"}) is None
    assert Sighting.from_json("garbage") is None


def test_lock_parsing_reads_heartbeat_fields() -> None:
    info = parse_lock(
        {
            "metadata": {"resourceVersion": "3"},
            "data": {
                "run_id": "r",
                "acquired_at": "2026-03-06T14:00:00Z",
                "heartbeat_at": "2026-03-06T14:01:00Z",
                "lease_seconds": "45",
                "host": "h",
                "pid": "42",
                "run_dir": "/runs/r",
            },
        }
    )
    assert info.heartbeat_at == datetime(2026, 3, 6, 14, 1, tzinfo=UTC)
    assert (info.lease_seconds, info.host, info.pid, info.run_dir) == (45, "h", 42, "/runs/r")
