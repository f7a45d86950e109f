"""Progress reports of a streaming phase: throttled, with rates over a real interval."""

from __future__ import annotations

from torghut_sim.kafka.progress import Progress, ProgressTracker


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reports_are_throttled_and_rates_need_a_real_interval() -> None:
    clock, seen = Clock(), list[Progress]()
    tracker = ProgressTracker("dump", seen.append, total=1000, interval_seconds=0.5, clock=clock)
    clock.now += 0.000004
    tracker.update(23_165)  # a first batch a few microseconds in: reported, with no absurd rate
    assert [(p.records, p.rate) for p in seen] == [(23_165, 0.0)]
    seen.clear()
    clock.now = 100.3
    tracker.update(300)  # within the interval of the last report: throttled
    clock.now = 100.6
    tracker.update(600)
    clock.now = 101.0
    tracker.finish(1000)
    assert [(p.records, round(p.rate), p.done) for p in seen] == [(600, 1000, False), (1000, 1000, True)]
    assert seen[0].eta_seconds is not None
    assert round(seen[0].eta_seconds, 6) == 0.4
