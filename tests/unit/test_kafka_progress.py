"""Progress reports of a streaming phase: throttled, with rates over a real interval."""

from __future__ import annotations

from torghut_sim.kafka.progress import Progress, ProgressTracker


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_report_before_one_interval_and_rates_over_the_elapsed_time() -> None:
    clock, seen = Clock(), list[Progress]()
    tracker = ProgressTracker("dump", seen.append, total=1000, interval_seconds=0.5, clock=clock)
    clock.now += 0.000004
    tracker.update(23_165)  # a first batch a few microseconds in: no absurd rate is reported
    assert seen == []
    clock.now = 100.5
    tracker.update(500)
    clock.now = 100.7
    tracker.update(600)  # within the interval of the last report: throttled
    clock.now = 101.0
    tracker.finish(1000)
    assert [(p.records, p.rate, p.done) for p in seen] == [(500, 1000.0, False), (1000, 1000.0, True)]
    assert seen[0].eta_seconds == 0.5
