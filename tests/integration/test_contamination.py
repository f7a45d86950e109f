"""Contamination checks against real production-side stores: writes attributable to the run are found,
live traffic (outside the window, without the run's markers, merges) is not."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from torghut_sim.devstack.clickhouse import PASSWORD, USERNAME, ClickHouseService
from torghut_sim.devstack.migrate import migrate
from torghut_sim.devstack.postgres import PostgresService
from torghut_sim.devstack.production_schema import ensure_production_schema
from torghut_sim.devstack.service import Service
from torghut_sim.kafka.readiness import create_topics
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint
from torghut_sim.stores.contamination import (
    ProductionTargets,
    check_contamination,
    read_before,
    record_before,
    snapshot_production,
)
from torghut_sim.stores.contamination_run import RunIdentity
from torghut_sim.stores.errors import ContaminationDetectedError

# A recent day: production tables keep a 35-day TTL, and ClickHouse drops already-expired rows on insert.
DAY = (datetime.now(UTC) - timedelta(days=3)).date()
RUN = RunIdentity(
    run_id="sim-20260227-01",
    run_token="sim_20260227_01",
    window_start=datetime(DAY.year, DAY.month, DAY.day, 14, 30, tzinfo=UTC),
    window_end=datetime(DAY.year, DAY.month, DAY.day, 21, 0, tzinfo=UTC),
)
LATER = DAY + timedelta(days=1)
COLUMNS = "symbol, event_ts, seq, ingest_ts, is_final, source, window_size, version, o, h, l, c, v, count"


def bar(event_ts: str, seq: int = 1, ingest: str = "now64(3)") -> str:
    """A VALUES tuple of one microbar."""
    return f"('NVDA', '{event_ts}', {seq}, {ingest}, 1, 'ta', 'PT1S', 1, 1, 1, 1, 1, 1, 1)"


@pytest.fixture
def ch_client(clickhouse_service: Service) -> Any:
    """A client of the local ClickHouse."""
    assert isinstance(clickhouse_service, ClickHouseService)
    return clickhouse_service.client()


@pytest.fixture
def prod_ch(clickhouse_service: Service, ch_client: Any) -> Iterator[str]:
    """A private "production" ClickHouse database with some history in the window."""
    name = f"t_prodch_{uuid.uuid4().hex[:10]}"
    ensure_production_schema(ch_client, name)
    ch_client.command(
        f"INSERT INTO {name}.ta_microbars ({COLUMNS}) VALUES "
        + bar(f"{DAY} 15:00:00.000", 1, f"toDateTime64('{DAY} 15:00:00.100', 3, 'UTC')")
    )
    yield name
    ch_client.command(f"DROP DATABASE IF EXISTS {name} SYNC")


@pytest.fixture
def prod_pg(postgres_service: Service, unique_name: str) -> Iterator[str]:
    """A private "production" runtime database with the runtime schema and a live cursor."""
    assert isinstance(postgres_service, PostgresService)
    name = f"prod_{unique_name}"
    with psycopg.connect(postgres_service.dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = postgres_service.dsn(name)
    migrate(dsn)
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO trade_cursor VALUES ('clickhouse', 'live', now())")
    yield dsn
    with psycopg.connect(postgres_service.dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def targets(clickhouse_service: Service, prod_ch: str, prod_pg: str) -> ProductionTargets:
    """ClickHouse and Postgres production targets (no Kafka)."""
    assert isinstance(clickhouse_service, ClickHouseService)
    endpoint = ClickHouseEndpoint(clickhouse_service.http_url, USERNAME, PASSWORD)
    return ProductionTargets(clickhouse=endpoint, clickhouse_database=prod_ch, postgres_dsn=prod_pg)


def _check(tmp_path: Path, targets: ProductionTargets, write: Any) -> list[Any]:
    path = tmp_path / "contamination.json"
    record_before(path, RUN, snapshot_production(targets, RUN))
    write()
    before = read_before(path)
    return check_contamination(path, RUN, before, snapshot_production(targets, RUN, previous=before))


def _status(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "contamination.json").read_text())
    return data


def test_live_traffic_is_not_contamination(
    tmp_path: Path, targets: ProductionTargets, ch_client: Any, prod_ch: str, prod_pg: str
) -> None:
    def live() -> None:
        ch_client.command(
            f"INSERT INTO {prod_ch}.ta_microbars ({COLUMNS}) VALUES "
            + ", ".join([bar(f"{LATER} 15:00:00.000"), bar(f"{DAY} 21:00:00.001")])
        )
        # A merge of the window's history: counts may only go down.
        ch_client.command(f"OPTIMIZE TABLE {prod_ch}.ta_microbars FINAL")
        with psycopg.connect(prod_pg) as conn:
            conn.execute(
                "INSERT INTO trade_decisions (strategy_id, symbol, decision_json) VALUES "
                f"('live', 'NVDA', '{{\"event_ts\": \"{DAY}T15:00:00Z\"}}')"
            )
            conn.execute("UPDATE trade_cursor SET cursor_at = now() + interval '1 minute'")

    assert _check(tmp_path, targets, live) == []
    data = _status(tmp_path)
    assert data["status"] == "clean"
    assert "simulated window" in data["rule"]
    before, after = (data[k]["clickhouse"]["ta_microbars"] for k in ("before", "after"))
    assert before["rows"] == 1 and after["rows"] == 1


def test_clickhouse_row_in_the_window_is_contamination(
    tmp_path: Path, targets: ProductionTargets, ch_client: Any, prod_ch: str
) -> None:
    def leak() -> None:
        ch_client.command(
            f"INSERT INTO {prod_ch}.ta_signals (symbol, event_ts, seq, ingest_ts, is_final, "
            "source, window_size, version) VALUES "
            f"('AMD', '{DAY} 16:00:00.000', 7, now64(3), 1, 'ta', 'PT1S', 1)"
        )

    with pytest.raises(ContaminationDetectedError) as info:
        _check(tmp_path, targets, leak)
    assert info.value.reason == "contamination_detected"
    data = _status(tmp_path)
    assert data["status"] == "contaminated"
    assert {(f["store"], f["target"]) for f in data["findings"]} == {("clickhouse", "ta_signals")}


def test_replacing_an_existing_key_in_the_window_is_contamination(
    tmp_path: Path, targets: ProductionTargets, ch_client: Any, prod_ch: str
) -> None:
    def overwrite() -> None:
        ch_client.command(
            f"INSERT INTO {prod_ch}.ta_microbars ({COLUMNS}) VALUES " + bar(f"{DAY} 15:00:00.000", 1)
        )

    with pytest.raises(ContaminationDetectedError):
        _check(tmp_path, targets, overwrite)
    details = [f["detail"] for f in _status(tmp_path)["findings"]]
    # Same key as the history row: the key count stays, the newer version shows.
    assert "max_ingest_ts_us in the simulated window grew" in details
    assert "keys in the simulated window grew" not in details


def test_postgres_rows_with_the_run_id_are_contamination(
    tmp_path: Path, targets: ProductionTargets, prod_pg: str
) -> None:
    def leak() -> None:
        with psycopg.connect(prod_pg) as conn:
            conn.execute(
                "INSERT INTO trade_decisions (strategy_id, symbol, decision_json) VALUES ('s', 'NVDA', "
                '\'{"params": {"simulation_context": {"simulation_run_id": "sim-20260227-01"}}}\')'
            )

    with pytest.raises(ContaminationDetectedError):
        _check(tmp_path, targets, leak)
    findings = _status(tmp_path)["findings"]
    assert [(f["store"], f["target"], f["before"], f["after"]) for f in findings] == [
        ("postgres", "trade_decisions", 0, 1)
    ]


def test_cursor_moved_into_the_window_is_contamination(
    tmp_path: Path, targets: ProductionTargets, prod_pg: str
) -> None:
    def rewind() -> None:
        with psycopg.connect(prod_pg) as conn:
            conn.execute(f"UPDATE trade_cursor SET cursor_at = '{DAY}T14:30:00Z'")

    with pytest.raises(ContaminationDetectedError):
        _check(tmp_path, targets, rewind)
    assert [f["target"] for f in _status(tmp_path)["findings"]] == ["trade_cursor"]


@pytest.fixture
def prod_topic(kafka_service: Service, unique_name: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A private "production" topic with 2 partitions and the client config to reach it."""
    config = {"bootstrap.servers": kafka_service.endpoints()["bootstrap_servers"]}
    admin = AdminClient(config)
    topic = f"{unique_name}.trades.v1"
    create_topics(config, {topic: 2})
    yield topic, config
    for future in admin.delete_topics([topic]).values():
        future.result(30)


Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def _produce(config: dict[str, str], topic: str, records: list[Record]) -> None:
    producer = Producer(config)
    for key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0


def test_topic_records_with_the_run_markers_are_contamination(
    tmp_path: Path, prod_topic: tuple[str, dict[str, str]]
) -> None:
    topic, config = prod_topic
    _produce(config, topic, [(b"NVDA", b'{"symbol": "NVDA"}', [])])
    targets = ProductionTargets(kafka_config=config, kafka_topics=(topic,))

    def live_then_leak() -> None:
        _produce(
            config,
            topic,
            [
                (b"AMD", b'{"symbol": "AMD", "seq": 1}', [("source", b"ws")]),
                (b"MU", b'{"symbol": "MU"}', [("simulation_run_id", b"sim-20260227-01")]),
            ],
        )

    with pytest.raises(ContaminationDetectedError):
        _check(tmp_path, targets, live_then_leak)
    data = _status(tmp_path)
    assert data["after"]["kafka_scan"]["scanned"] == 2
    assert [f["detail"].split(" in ")[-1] for f in data["findings"]] == ["header:simulation_run_id"]


def test_unmarked_topic_records_are_not_contamination(
    tmp_path: Path, prod_topic: tuple[str, dict[str, str]]
) -> None:
    topic, config = prod_topic
    targets = ProductionTargets(kafka_config=config, kafka_topics=(topic,))

    def live() -> None:
        _produce(config, topic, [(b"NVDA", b'{"symbol": "NVDA", "run": "sim-20260226-01"}', [])] * 3)

    assert _check(tmp_path, targets, live) == []
    scan = _status(tmp_path)["after"]["kafka_scan"]
    assert scan["scanned"] == 3 and scan["hits"] == []
    assert sum(_status(tmp_path)["after"]["kafka_end_offsets"][topic].values()) == 3
