"""Provisioning a run's databases against the real servers, with one of them down: nothing is half-made.

Postgres down at provision used to raise a raw driver error and leave the new ClickHouse database behind.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from tests.integration._tcp_proxy import free_port
from torghut_sim.devstack.clickhouse import PASSWORD as CH_PASSWORD
from torghut_sim.devstack.clickhouse import USERNAME as CH_USERNAME
from torghut_sim.devstack.clickhouse import ClickHouseService
from torghut_sim.devstack.postgres import PASSWORD, PostgresService
from torghut_sim.devstack.service import Service
from torghut_sim.errors import TorghutSimError
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint
from torghut_sim.stores.postgres_provision import PostgresPlan, provision_postgres
from torghut_sim.stores.provision import provision_databases
from torghut_sim.stores.retry import RetryPolicy

MIGRATE = [sys.executable, "-m", "torghut_sim.devstack.migrate"]
WINDOW_START = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
FAST = RetryPolicy(attempts=2, sleep=lambda _s: None)


@pytest.fixture
def stores(
    postgres_service: Service, clickhouse_service: Service, unique_name: str
) -> Iterator[tuple[PostgresService, ClickHouseService, str]]:
    """Both local servers and a simulation database name, dropped on both afterwards."""
    assert isinstance(postgres_service, PostgresService)
    assert isinstance(clickhouse_service, ClickHouseService)
    name = f"torghut_sim_{unique_name}"
    yield postgres_service, clickhouse_service, name
    clickhouse_service.client().command(f"DROP DATABASE IF EXISTS {name} SYNC")
    with psycopg.connect(postgres_service.dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _plan(admin_dsn: str, sim_dsn: str, **overrides: object) -> PostgresPlan:
    values: dict[str, object] = {
        "admin_dsn": admin_dsn,
        "simulation_dsn": sim_dsn,
        "migrations_command": MIGRATE,
        "window_start": WINDOW_START,
    }
    values.update(overrides)
    return PostgresPlan(**values)  # type: ignore[arg-type]


def _clickhouse_has(ch: ClickHouseService, name: str) -> bool:
    rows = ch.client().query(
        "SELECT count() FROM system.databases WHERE name = {db:String}", parameters={"db": name}
    )
    return bool(rows.result_rows[0][0])


def _postgres_has(pg: PostgresService, name: str) -> bool:
    with psycopg.connect(pg.dsn()) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_postgres_down_is_one_reason_line_and_leaves_no_clickhouse_database(
    stores: tuple[PostgresService, ClickHouseService, str],
) -> None:
    _pg, ch, name = stores
    down = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}"
    endpoint = ClickHouseEndpoint(ch.http_url, CH_USERNAME, CH_PASSWORD)
    with pytest.raises(TorghutSimError) as err:
        provision_databases([endpoint], name, _plan(f"{down}/postgres", f"{down}/{name}"), FAST)
    assert err.value.reason == "postgres_unreachable"
    assert "\n" not in str(err.value) and PASSWORD not in str(err.value)
    assert not _clickhouse_has(ch, name)


def test_clickhouse_down_drops_the_postgres_database_this_step_created(
    stores: tuple[PostgresService, ClickHouseService, str],
) -> None:
    pg, _ch, name = stores
    down = ClickHouseEndpoint(f"http://127.0.0.1:{free_port()}", CH_USERNAME, CH_PASSWORD)
    with pytest.raises(TorghutSimError) as err:
        provision_databases([down], name, _plan(pg.dsn(), pg.dsn(name)), FAST)
    assert err.value.reason == "clickhouse_provision_failed"
    assert not _postgres_has(pg, name)


def test_failed_migrations_drop_the_database_they_were_run_on(
    stores: tuple[PostgresService, ClickHouseService, str],
) -> None:
    pg, _ch, name = stores
    with pytest.raises(TorghutSimError) as err:
        provision_postgres(
            _plan(pg.dsn(), pg.dsn(name), migrations_command=[sys.executable, "-c", "exit(3)"])
        )
    assert err.value.reason == "migration_failed"
    assert not _postgres_has(pg, name)


def test_a_database_of_an_earlier_run_is_kept_when_a_rerun_fails(
    stores: tuple[PostgresService, ClickHouseService, str],
) -> None:
    """Only what this step created is taken back: a rerun's existing database stays for the next attempt."""
    pg, _ch, name = stores
    assert provision_postgres(_plan(pg.dsn(), pg.dsn(name))).created
    with pytest.raises(TorghutSimError):
        provision_postgres(
            _plan(pg.dsn(), pg.dsn(name), migrations_command=[sys.executable, "-c", "exit(3)"])
        )
    assert _postgres_has(pg, name)
