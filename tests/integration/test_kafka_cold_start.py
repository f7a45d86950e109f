"""A broker started cold (empty data directory) is seeded at once, as the demo does, round after round.

The race this guards: topics created on a broker that has just started list a leader in their
metadata a moment before that leader answers offset and time-index requests, so the seed's time-index
read failed with NOT_LEADER_OR_FOLLOWER on a first cold run. A private broker on its own ports and
state directory is used so the session's shared broker keeps its topics.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from torghut_sim.devstack.config import Ports, StackConfig
from torghut_sim.devstack.kafka import KafkaService
from torghut_sim.devstack.market_day import PRODUCTION_SOURCE_TOPICS, SeedRequest, seed_day
from torghut_sim.devstack.market_walk import DaySpec
from torghut_sim.devstack.service import Service
from torghut_sim.kafka.readiness import TopicLeadersUnavailableError, records_held, wait_for_topics

ROUNDS = 3
DAY = date(2026, 3, 6)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cold_kafka(stack_config: StackConfig, tmp_path: Path) -> Iterator[KafkaService]:
    """A broker of its own (same build cache), stopped at the end of the test."""
    config = StackConfig(
        state_dir=tmp_path / "stack",
        cache_dir=stack_config.cache_dir,
        ports=Ports(kafka=_free_port(), kafka_controller=_free_port()),
    )
    service = KafkaService(config)
    try:
        yield service
    finally:
        service.stop()


def test_a_cold_broker_is_seeded_at_once_every_time(cold_kafka: KafkaService, tmp_path: Path) -> None:
    spec = DaySpec(DAY, symbols=("NVDA", "AMD"), trade_rate=0.02, malformed=0)
    topics = sorted(set(PRODUCTION_SOURCE_TOPICS.values()))
    for round_no in range(ROUNDS):
        cold_kafka.stop()
        shutil.rmtree(cold_kafka.data_dir, ignore_errors=True)
        cold_kafka.start()
        # No pause: the seed creates the topics and reads their time index on the broker just started.
        result = seed_day(
            SeedRequest(spec, cold_kafka.bootstrap_servers, tmp_path / f"markers-{round_no}", reset=True)
        )
        assert result.status == "seeded", (round_no, result.message)
        assert result.records > 0
        held = records_held({"bootstrap.servers": cold_kafka.bootstrap_servers}, topics)
        assert held == {topic: result.records_by_topic.get(topic, 0) for topic in topics}, round_no


def test_the_wait_is_bounded_and_says_why_it_gave_up(kafka_service: Service, unique_name: str) -> None:
    bootstrap = kafka_service.endpoints()["bootstrap_servers"]
    never_created = f"{unique_name}.never"
    with pytest.raises(TopicLeadersUnavailableError) as missing:
        wait_for_topics({"bootstrap.servers": bootstrap}, [never_created], timeout=2)
    assert missing.value.reason == "topic_leaders_unavailable"
    assert never_created in missing.value.message
    with pytest.raises(TopicLeadersUnavailableError) as dead:
        wait_for_topics({"bootstrap.servers": "127.0.0.1:1"}, [never_created], timeout=2)
    assert dead.value.reason == "broker_unreachable"
