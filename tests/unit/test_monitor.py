"""The monitor's notion of done: every stage complete and unchanged over two polls; cut-short inputs named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from torghut_sim.kafka.group_offsets import GroupOffsets, PartitionOffsets
from torghut_sim.manifest.run_settings import MonitorSpec
from torghut_sim.monitor import MonitorTargets, RuntimeProgress, StagePoll, wait_for_window
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint

END = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
EARLY = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
TARGETS = MonitorTargets(
    simulation_dsn="postgresql://unused",
    kafka_config={},
    clickhouse=ClickHouseEndpoint("http://127.0.0.1:1"),
    clickhouse_database="torghut_sim_x",
    ta_group="torghut-ta-sim-x",
    replayed_topics={"trades": "t", "quotes": "q"},
    ta_output_topics={"ta_signals": "s"},
    order_feed_group="torghut-order-feed-sim-x",
    order_feed_topic="o",
)
SPEC = MonitorSpec(timeout_seconds=100, poll_seconds=1, cursor_grace_seconds=0)


def _group(committed: int | None, high: int = 10, topic: str = "t") -> GroupOffsets:
    return GroupOffsets("g", (PartitionOffsets(topic, 0, 0, high, committed),))


def _poll(
    cursor: datetime | None = END,
    ta_committed: int | None = 10,
    signals: tuple[int, int] = (5, 5),
    decisions: int = 3,
    behind: tuple[int, int] = (0, 0),
) -> StagePoll:
    return StagePoll(
        runtime=RuntimeProgress(cursor, {"trade_decisions": decisions}),
        ta_input=_group(ta_committed),
        ta_output={"ta_signals": {"topic_records": signals[0], "clickhouse_rows": signals[1]}},
        order_feed=_group(None, high=0, topic="o"),
        signals_upto_previous_cursor=behind[0],
        signals_upto_cursor=behind[1],
    )


class _Script:
    """Hands out the scripted polls in turn (the last one repeats) and a clock that each sleep advances."""

    def __init__(self, polls: list[StagePoll]) -> None:
        self.polls = polls
        self.index = 0
        self.now = 0.0
        self.cursors: list[datetime | None] = []

    def poll(self, _targets: MonitorTargets, previous_cursor: datetime | None) -> StagePoll:
        self.cursors.append(previous_cursor)
        item = self.polls[min(self.index, len(self.polls) - 1)]
        self.index += 1
        return item

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def run(self, spec: MonitorSpec = SPEC):  # type: ignore[no-untyped-def]
        return wait_for_window(TARGETS, END, spec, sleep=self.sleep, clock=lambda: self.now, poll=self.poll)


def test_the_cursor_at_the_end_is_not_done_while_the_ta_is_still_consuming() -> None:
    script = _Script(
        [_poll(ta_committed=4, decisions=1), _poll(ta_committed=8, decisions=2), _poll(), _poll()]
    )
    result = script.run()
    assert result.ended == "stable" and result.complete and result.problems == []
    assert script.index == 4
    assert result.stages["ta_input"].reached["remaining"] == 0
    assert result.stages["order_feed"].reached["applicable"] is False
    assert result.progress.counts == {"trade_decisions": 3}


def test_done_needs_two_identical_polls() -> None:
    script = _Script([_poll(decisions=2), _poll(decisions=3), _poll(decisions=3)])
    assert script.run().polls == 3


def test_output_not_landed_in_clickhouse_keeps_waiting() -> None:
    script = _Script(
        [_poll(signals=(9, 5)), _poll(signals=(9, 5)), _poll(signals=(9, 9)), _poll(signals=(9, 9))]
    )
    result = script.run()
    assert result.complete and result.polls == 4
    assert result.stages["ta_output"].reached == {"ta_signals": {"topic_records": 9, "clickhouse_rows": 9}}


def test_a_timeout_returns_what_each_stage_reached_and_names_the_incomplete_ones() -> None:
    script = _Script([_poll(cursor=EARLY, ta_committed=7)])
    result = script.run(SPEC.model_copy(update={"timeout_seconds": 5}))
    assert result.ended == "timeout" and not result.complete
    assert result.problems == ["ta_input_incomplete", "cursor_short_of_window_end", "monitor_timeout"]
    assert result.stages["ta_input"].reached["remaining"] == 3
    assert result.as_dict()["cursor_at"] == EARLY.isoformat()


def test_signals_landing_behind_the_runtime_cursor_mark_the_inputs_cut_short() -> None:
    # The runtime's cursor jumped to the window end at 40 signals; 6 more landed behind it afterwards.
    script = _Script([_poll(behind=(0, 40)), _poll(behind=(46, 46))])
    result = script.run()
    assert result.ended == "stable" and not result.complete
    assert result.signals_behind_cursor == 6 and result.problems == ["signals_behind_cursor"]
    assert script.cursors == [None, END]


def test_an_order_feed_group_that_consumes_must_reach_the_end() -> None:
    lagging = replace(_poll(), order_feed=_group(2, high=5, topic="o"))
    result = _Script([lagging]).run(SPEC.model_copy(update={"timeout_seconds": 3}))
    assert result.problems == ["order_feed_incomplete", "monitor_timeout"]
    assert result.stages["order_feed"].reached["applicable"] is True
