"""The reference runtime completes the window only once the TA has committed its whole input.

A TA stalled by load (a slow insert) is quiet too: the runtime used to take that quiet for the end of
the day and jump its cursor to the window end, skipping the signals the TA produced afterwards.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from torghut_sim.devstack.refruntime import torghut as torghut_module
from torghut_sim.devstack.refruntime.settings import LocalEndpoints, TorghutSettings
from torghut_sim.devstack.refruntime.torghut import TorghutWorker
from torghut_sim.kafka.group_offsets import GroupOffsets, PartitionOffsets

START = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
END = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
END_MS = int(END.timestamp() * 1000)
LATEST_MS = END_MS - 10 * 60 * 1000  # the TA is ten minutes short of the end, and quiet


class _Result:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.result_rows = rows


class _ClickHouse:
    def query(self, _sql: str) -> _Result:
        return _Result([(LATEST_MS, 1000)])


def _worker(
    monkeypatch: pytest.MonkeyPatch, remaining: int
) -> tuple[TorghutWorker, list[int], list[tuple[str, list[str]]]]:
    settings = TorghutSettings(
        db_dsn="postgresql://unused",
        signal_table=("torghut_sim_x", "ta_signals"),
        price_table=("torghut_sim_x", "ta_microbars"),
        run_id="sim-20260306-01",
        dataset_id="torghut-trades-20260306",
        window_start=START,
        window_end=END,
        order_feed_topic="torghut.sim.trade-updates.v1.sim_20260306_01",
        account_label="paper",
        signal_source="clickhouse",
        fetch_window_seconds=900,
        allow_shorts=True,
        model="m",
        prompt_version="v",
    )
    endpoints = LocalEndpoints("127.0.0.1:1", "127.0.0.1", 1, "u", "p", "unused")
    worker = TorghutWorker(settings, endpoints, logging.getLogger("test"), stable_seconds=0.0)
    worker.client = _ClickHouse()
    worker.cursor_ms = LATEST_MS
    commits: list[int] = []
    monkeypatch.setattr(worker, "_commit_window", lambda upper, _rows, completed: commits.append(upper))
    lag = GroupOffsets("g", (PartitionOffsets("t", 0, 0, 100, 100 - remaining),))
    asked: list[tuple[str, list[str]]] = []

    def offsets(_config: Any, group: str, topics: list[str]) -> GroupOffsets:
        asked.append((group, topics))
        return lag

    monkeypatch.setattr(torghut_module, "read_group_offsets", offsets)
    worker.seen_changed = 0.0
    worker.seen = (LATEST_MS, 1000)
    return worker, commits, asked


def test_a_quiet_ta_that_has_not_committed_its_input_does_not_end_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker, commits, asked = _worker(monkeypatch, remaining=250)
    assert worker.cycle() is False
    assert commits == [] and not worker.completed
    assert asked == [
        (
            "torghut-ta-sim-sim_20260306_01",
            ["torghut.sim.trades.v1.sim_20260306_01", "torghut.sim.quotes.v1.sim_20260306_01"],
        )
    ]


def test_a_quiet_ta_at_the_end_of_its_input_ends_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    worker, commits, _ = _worker(monkeypatch, remaining=0)
    worker.cycle()
    assert commits == [END_MS]
