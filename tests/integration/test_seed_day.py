"""Seeding keeps the source topics in time order against the real broker, so every seeded day can be
dumped by its window: a day behind later days is refused, and `reset` clears the topics first."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.integration._kafka import consume_all
from torghut_sim.calendar import session_window
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.market_day import SeedRequest, seed_day
from torghut_sim.devstack.market_walk import DaySpec
from torghut_sim.dump.dumper import dump_source
from torghut_sim.dump.request import DumpRequest
from torghut_sim.kafka.connection import KafkaConnection

EARLIER = date(2026, 3, 6)
LATER = date(2026, 5, 12)


def _spec(day: date) -> DaySpec:
    return DaySpec(day, symbols=("NVDA", "AMD", "MU"), trade_rate=0.05, malformed=0)


def _request(
    kafka: Any, topics: dict[str, str], tmp_path: Path, day: date, reset: bool = False
) -> SeedRequest:
    return SeedRequest(_spec(day), kafka.bootstrap_servers, tmp_path / "markers", topics, reset=reset)


def _records(kafka: Any, topics: dict[str, str]) -> list[tuple[int, int, bytes | None, bytes | None, Any]]:
    connection = KafkaConnection(kafka.bootstrap_servers)
    return [record for topic in topics.values() for record in consume_all(connection, topic)]


def test_a_day_behind_later_days_is_refused_and_reset_makes_it_dumpable(
    kafka_service: Any, unique_name: str, tmp_path: Path
) -> None:
    topics = {role: f"{unique_name}.src.{role}" for role in ("trades", "quotes", "bars", "status")}
    later = seed_day(_request(kafka_service, topics, tmp_path, LATER))
    assert later.status == "seeded" and later.records > 0

    with pytest.raises(DevstackError) as refused:
        seed_day(_request(kafka_service, topics, tmp_path, EARLIER))
    assert refused.value.reason == "seed_out_of_order"
    assert "--reset" in str(refused.value)
    # Refused before producing anything: the topics hold the later day only.
    assert len(_records(kafka_service, topics)) == later.records

    earlier = seed_day(_request(kafka_service, topics, tmp_path, EARLIER, reset=True))
    assert earlier.status == "seeded"
    kept = _records(kafka_service, topics)
    assert len(kept) == earlier.records
    window = session_window(EARLIER)
    start_ms, end_ms = (int(t.timestamp() * 1000) for t in (window.session_start, window.session_end))
    in_window = sum(1 for _p, ts, *_rest in kept if start_ms <= ts < end_ms)
    assert 0 < in_window < earlier.records  # edge records lie just outside the session
    # The later day's marker went with its records; only the earlier day's remains.
    assert [p.name.split("-")[:3] for p in (tmp_path / "markers").glob("*.json")] == [["2026", "03", "06"]]

    # The reason for all this: the earlier day's window now finds every one of its records.
    dump = dump_source(
        KafkaConnection(kafka_service.bootstrap_servers),
        DumpRequest(
            window_start=window.session_start,
            window_end=window.session_end,
            dump_path=tmp_path / "dump" / "source-dump.jsonl.zst",
            marker_path=tmp_path / "dump" / "source-dump.marker.json",
            source_topics=topics,
        ),
    )
    assert dump.marker.records == in_window

    # Later days append in order again, without a reset.
    assert seed_day(_request(kafka_service, topics, tmp_path, LATER)).status == "seeded"
