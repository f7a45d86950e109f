"""Simulation ClickHouse provisioning against the real local engine: clone without TTL, truncate on
reprovision, several servers, progress figures and the ClickHouse part of the evidence export."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.integration._tcp_proxy import free_port
from torghut_sim.devstack.clickhouse import PASSWORD, USERNAME, ClickHouseService, start_instance
from torghut_sim.devstack.production_schema import ensure_production_schema
from torghut_sim.devstack.service import Service
from torghut_sim.export_schema import EXPORT_SCHEMAS
from torghut_sim.layout import run_paths
from torghut_sim.stores.clickhouse_provision import (
    ClickHouseEndpoint,
    drop_simulation_database,
    last_prices,
    latest_event_ts,
    list_simulation_databases,
    provision_clickhouse,
    table_progress,
)
from torghut_sim.stores.errors import ClickHouseProvisionError, UnsafeNameError
from torghut_sim.stores.export import export_clickhouse

MICROBAR_COLUMNS = (
    "symbol, event_ts, seq, ingest_ts, is_final, source, window_size, version, o, h, l, c, v, count"
)


def microbar(symbol: str, event_ts: str, seq: int, close: str) -> str:
    """One VALUES tuple of a microbar row."""
    return f"('{symbol}', '{event_ts}', {seq}, now64(3), 1, 'ta', 'PT1S', 1, 1, 1, 1, {close}, 10, 3)"


@pytest.fixture
def ch(clickhouse_service: Service) -> ClickHouseService:
    """The local ClickHouse server."""
    assert isinstance(clickhouse_service, ClickHouseService)
    return clickhouse_service


@pytest.fixture
def endpoint(ch: ClickHouseService) -> ClickHouseEndpoint:
    """The local server as the pipeline addresses it."""
    return ClickHouseEndpoint(ch.http_url, USERNAME, PASSWORD)


@pytest.fixture
def prod_db(ch: ClickHouseService) -> Iterator[str]:
    """A private "production" database with the production tables (TTL included)."""
    name = f"t_prod_{uuid.uuid4().hex[:10]}"
    client = ch.client()
    ensure_production_schema(client, name)
    yield name
    client.command(f"DROP DATABASE IF EXISTS {name} SYNC")


@pytest.fixture
def sim_db(ch: ClickHouseService, unique_name: str) -> Iterator[str]:
    """A simulation database name for this test, dropped afterwards."""
    name = f"torghut_sim_{unique_name}"
    yield name
    ch.client().command(f"DROP DATABASE IF EXISTS {name} SYNC")


def _columns(client: Any, db: str, table: str) -> list[tuple[str, str]]:
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String} "
        "ORDER BY position",
        parameters={"d": db, "t": table},
    ).result_rows
    return [(str(n), str(t)) for n, t in rows]


def test_clone_has_production_columns_and_no_ttl(
    ch: ClickHouseService, endpoint: ClickHouseEndpoint, prod_db: str, sim_db: str
) -> None:
    result = provision_clickhouse([endpoint], sim_db, production_database=prod_db)
    client = ch.client()
    for table in ("ta_microbars", "ta_signals"):
        assert _columns(client, sim_db, table) == _columns(client, prod_db, table)
        created = client.query(f"SHOW CREATE TABLE {sim_db}.{table}").result_rows[0][0]
        assert "TTL" not in created
        assert "ReplacingMergeTree(ingest_ts)" in created
        assert "TTL" in client.query(f"SHOW CREATE TABLE {prod_db}.{table}").result_rows[0][0]
    assert set(result.ddl) == {"ta_microbars", "ta_signals"}


def test_an_old_window_survives_merges_in_the_clone(
    ch: ClickHouseService, endpoint: ClickHouseEndpoint, prod_db: str, sim_db: str
) -> None:
    provision_clickhouse([endpoint], sim_db, production_database=prod_db)
    client = ch.client()
    old = microbar("NVDA", "2020-01-02 14:30:00.000", 1, "100.5")
    for db in (prod_db, sim_db):
        client.command(f"INSERT INTO {db}.ta_microbars ({MICROBAR_COLUMNS}) VALUES {old}")
        client.command(f"OPTIMIZE TABLE {db}.ta_microbars FINAL")
    assert client.query(f"SELECT count() FROM {prod_db}.ta_microbars").result_rows[0][0] == 0
    assert client.query(f"SELECT count() FROM {sim_db}.ta_microbars").result_rows[0][0] == 1


def test_reprovision_truncates_and_keeps_the_schema(
    ch: ClickHouseService, endpoint: ClickHouseEndpoint, prod_db: str, sim_db: str
) -> None:
    provision_clickhouse([endpoint], sim_db, production_database=prod_db)
    client = ch.client()
    rows = ", ".join(microbar("AMD", f"2026-02-27 14:30:0{i}.000", i, "1") for i in range(3))
    client.command(f"INSERT INTO {sim_db}.ta_microbars ({MICROBAR_COLUMNS}) VALUES {rows}")
    assert client.query(f"SELECT count() FROM {sim_db}.ta_microbars").result_rows[0][0] == 3
    provision_clickhouse([endpoint], sim_db, production_database=prod_db)
    assert client.query(f"SELECT count() FROM {sim_db}.ta_microbars").result_rows[0][0] == 0
    assert _columns(client, sim_db, "ta_signals") == _columns(client, prod_db, "ta_signals")


def test_production_and_foreign_names_are_refused(endpoint: ClickHouseEndpoint, prod_db: str) -> None:
    for name in ("torghut", prod_db, "default", "scratch"):
        with pytest.raises(UnsafeNameError):
            provision_clickhouse([endpoint], name, production_database=prod_db)
    with pytest.raises(UnsafeNameError):
        drop_simulation_database(endpoint, prod_db)


def test_provisions_every_replica(
    ch: ClickHouseService, endpoint: ClickHouseEndpoint, prod_db: str, sim_db: str, tmp_path: Path
) -> None:
    replica = start_instance(free_port(), tmp_path / "replica")
    try:
        second = ClickHouseEndpoint(replica.http_url, USERNAME, PASSWORD)
        result = provision_clickhouse([endpoint, second], sim_db, production_database=prod_db)
        assert len(result.servers) == 2
        for client in (ch.client(), replica.client()):
            tables = client.query(
                "SELECT name FROM system.tables WHERE database = {d:String} ORDER BY name",
                parameters={"d": sim_db},
            ).result_rows
            assert [t[0] for t in tables] == ["ta_microbars", "ta_signals"]
        assert sim_db in list_simulation_databases(second)
    finally:
        replica.stop()


def test_unreachable_server_fails_with_a_clear_reason(prod_db: str, sim_db: str) -> None:
    dead = ClickHouseEndpoint(f"http://127.0.0.1:{free_port()}", USERNAME, PASSWORD)
    with pytest.raises(ClickHouseProvisionError) as info:
        provision_clickhouse([dead], sim_db, production_database=prod_db)
    assert info.value.reason == "clickhouse_provision_failed"
    assert PASSWORD not in str(info.value)


def test_progress_last_prices_and_export(
    ch: ClickHouseService, endpoint: ClickHouseEndpoint, prod_db: str, sim_db: str, tmp_path: Path
) -> None:
    provision_clickhouse([endpoint], sim_db, production_database=prod_db)
    assert latest_event_ts(endpoint, sim_db) is None
    rows = ", ".join(
        [
            microbar("NVDA", "2026-02-27 14:30:00.000", 1, "123.4567891234"),
            microbar("NVDA", "2026-02-27 14:30:01.500", 2, "124.01"),
            microbar("AMD", "2026-02-27 14:30:00.250", 1, "99.99"),
        ]
    )
    ch.client().command(f"INSERT INTO {sim_db}.ta_microbars ({MICROBAR_COLUMNS}) VALUES {rows}")

    progress = {p.table: p for p in table_progress(endpoint, sim_db)}
    assert progress["ta_microbars"].rows == 3
    assert progress["ta_microbars"].max_event_ts == datetime(2026, 2, 27, 14, 30, 1, 500000, tzinfo=UTC)
    assert progress["ta_signals"].rows == 0 and progress["ta_signals"].max_event_ts is None
    assert latest_event_ts(endpoint, sim_db) == datetime(2026, 2, 27, 14, 30, 1, 500000, tzinfo=UTC)
    prices = {p.symbol: p.price for p in last_prices(endpoint, sim_db)}
    assert prices == {"AMD": Decimal("99.99"), "NVDA": Decimal("124.01")}

    paths = run_paths(tmp_path, "r")
    files = {f.table: f for f in export_clickhouse(paths, endpoint, sim_db)}
    assert files["last_prices"].rows == 2 and files["clickhouse_counts"].rows == 2
    read = pq.read_table(paths.output_table("last_prices"))
    assert read.schema.equals(EXPORT_SCHEMAS["last_prices"])
    assert read.to_pylist()[0] == {
        "symbol": "AMD",
        "last_price": Decimal("99.99"),
        "last_event_ts": datetime(2026, 2, 27, 14, 30, 0, 250000, tzinfo=UTC),
    }


def test_last_price_keeps_ten_decimals(
    ch: ClickHouseService, endpoint: ClickHouseEndpoint, prod_db: str, sim_db: str
) -> None:
    provision_clickhouse([endpoint], sim_db, production_database=prod_db)
    row = microbar("MU", "2026-02-27 14:30:00.000", 1, "123.4567891234")
    ch.client().command(f"INSERT INTO {sim_db}.ta_microbars ({MICROBAR_COLUMNS}) VALUES {row}")
    assert last_prices(endpoint, sim_db)[0].price == Decimal("123.4567891234")
