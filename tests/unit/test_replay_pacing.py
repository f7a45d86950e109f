"""Replay pacing against a fake clock: no sleeps, real gaps, accelerated gaps, caps, odd gaps."""

from __future__ import annotations

import pytest

from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.pacing import Pacer, PaceSettings


class FakeTime:
    """A clock that only moves when slept on (or when the test says work took time)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def _run(settings: PaceSettings, stamps: list[int], work: float = 0.0) -> FakeTime:
    fake = FakeTime()
    pacer = Pacer(settings, clock=fake.clock, sleep=fake.sleep)
    for ts in stamps:
        pacer.wait(ts)
        fake.now += work
    return fake


def test_max_throughput_never_sleeps() -> None:
    assert _run(PaceSettings(), [0, 10_000, 500_000]).sleeps == []


def test_event_time_sleeps_the_real_gaps() -> None:
    fake = _run(PaceSettings("event_time", max_sleep_seconds=0), [0, 1_000, 3_500, 3_500])
    assert fake.sleeps == [1.0, 2.5]


def test_accelerated_divides_the_gap() -> None:
    fake = _run(PaceSettings("accelerated", acceleration=60, max_sleep_seconds=0), [0, 60_000, 90_000])
    assert fake.sleeps == [1.0, 0.5]


def test_every_sleep_is_capped() -> None:
    fake = _run(PaceSettings("event_time", max_sleep_seconds=5), [0, 100_000, 101_000, 3_600_000])
    assert fake.sleeps == [5.0, 1.0, 5.0]


def test_zero_cap_means_uncapped() -> None:
    assert _run(PaceSettings("event_time", max_sleep_seconds=0), [0, 100_000]).sleeps == [100.0]


def test_zero_and_negative_gaps_do_not_sleep_and_do_not_rewind() -> None:
    fake = _run(PaceSettings("event_time", max_sleep_seconds=0), [10_000, 10_000, 7_000, 11_000])
    # The late record (7 s) is sent at once; the next gap is measured from 10 s, not from 7 s.
    assert fake.sleeps == [1.0]


def test_work_time_counts_against_the_gap() -> None:
    fake = _run(PaceSettings("event_time", max_sleep_seconds=0), [0, 1_000, 2_000], work=0.25)
    assert fake.sleeps == [0.75, 0.75]


def test_falling_behind_does_not_build_a_burst_credit() -> None:
    fake = _run(PaceSettings("event_time", max_sleep_seconds=0), [0, 1_000, 2_000, 3_000], work=3.0)
    assert fake.sleeps == []


@pytest.mark.parametrize(
    "settings",
    [{"mode": "warp"}, {"mode": "accelerated", "acceleration": 0}],
)
def test_invalid_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ReplayError) as info:
        PaceSettings(**settings)  # type: ignore[arg-type]
    assert info.value.reason == "replay_pace_invalid"
