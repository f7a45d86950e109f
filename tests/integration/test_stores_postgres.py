"""Simulation Postgres provisioning against the real local server: create, migrate, grant, verify,
truncate and seed; failures of the migrations command; retry of transient connection failures only."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pyarrow.parquet as pq
import pytest

from tests.integration._tcp_proxy import TcpProxy, free_port
from torghut_sim.devstack.postgres import PASSWORD, PostgresService
from torghut_sim.devstack.service import Service
from torghut_sim.export_schema import EXPORT_SCHEMAS
from torghut_sim.layout import run_paths
from torghut_sim.stores.deltas import postgres_counts, row_deltas
from torghut_sim.stores.errors import MigrationFailedError, MissingTablesError, UnsafeNameError
from torghut_sim.stores.export import export_run
from torghut_sim.stores.postgres_provision import (
    CursorSeed,
    PostgresPlan,
    ensure_database,
    provision_postgres,
)
from torghut_sim.stores.retry import RetryPolicy
from torghut_sim.tables import POSTGRES_TABLES

MIGRATE = [sys.executable, "-m", "torghut_sim.devstack.migrate"]
WINDOW_START = datetime(2026, 2, 27, 14, 30, tzinfo=UTC)


@pytest.fixture
def pg(postgres_service: Service) -> PostgresService:
    """The local Postgres server."""
    assert isinstance(postgres_service, PostgresService)
    return postgres_service


@pytest.fixture
def sim_db(pg: PostgresService, unique_name: str) -> Iterator[str]:
    """A simulation database name for this test, dropped afterwards."""
    name = f"torghut_sim_{unique_name}"
    yield name
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _plan(pg: PostgresService, db: str, **overrides: object) -> PostgresPlan:
    values: dict[str, object] = {
        "admin_dsn": pg.dsn(),
        "simulation_dsn": pg.dsn(db),
        "migrations_command": MIGRATE,
        "window_start": WINDOW_START,
    }
    values.update(overrides)
    return PostgresPlan(**values)  # type: ignore[arg-type]


def _no_sleep(delays: list[float]) -> RetryPolicy:
    return RetryPolicy(sleep=delays.append)


def test_provision_creates_migrates_and_seeds_cursor(pg: PostgresService, sim_db: str) -> None:
    result = provision_postgres(_plan(pg, sim_db, cursor_seeds=(CursorSeed("clickhouse", "paper"),)))
    assert result.created is True
    assert PASSWORD not in result.simulation_dsn and ":***@" in result.simulation_dsn
    with psycopg.connect(pg.dsn(sim_db)) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        cursor = conn.execute("SELECT source, account_label, cursor_at FROM trade_cursor").fetchall()
    assert set(POSTGRES_TABLES) <= tables
    assert cursor == [("clickhouse", "paper", WINDOW_START)]


def test_reprovision_truncates_and_keeps_schema(pg: PostgresService, sim_db: str) -> None:
    provision_postgres(_plan(pg, sim_db))
    with psycopg.connect(pg.dsn(sim_db)) as conn:
        conn.execute("INSERT INTO trade_decisions (strategy_id, symbol) VALUES ('s1', 'NVDA')")
        conn.execute("UPDATE trade_cursor SET cursor_at = now()")
    later = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    result = provision_postgres(_plan(pg, sim_db, window_start=later))
    assert result.created is False
    with psycopg.connect(pg.dsn(sim_db)) as conn:
        decisions = conn.execute("SELECT count(*) FROM trade_decisions").fetchone()
        cursor = conn.execute("SELECT cursor_at FROM trade_cursor").fetchall()
        columns = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'executions'"
        ).fetchone()
    assert decisions == (0,)
    assert cursor == [(later,)]
    assert columns is not None and columns[0] >= 19


def test_migration_failure_reports_last_lines(pg: PostgresService, sim_db: str) -> None:
    script = (
        "import os, sys\n"
        "assert os.environ['DB_DSN'].endswith('/" + sim_db + "')\n"
        "for i in range(40): print(f'step {i}')\n"
        "print('boom: relation trade_decisions cannot be altered')\n"
        "sys.exit(3)\n"
    )
    with pytest.raises(MigrationFailedError) as info:
        provision_postgres(_plan(pg, sim_db, migrations_command=[sys.executable, "-c", script]))
    message = str(info.value)
    assert info.value.reason == "migration_failed"
    assert "exited 3" in message
    assert "boom: relation trade_decisions cannot be altered" in message
    assert "step 39" in message and "step 5\n" not in message


def test_migration_output_never_shows_the_password(pg: PostgresService, sim_db: str) -> None:
    script = "import os, sys\nprint(os.environ['DB_DSN'])\nsys.exit(1)\n"
    with pytest.raises(MigrationFailedError) as info:
        provision_postgres(_plan(pg, sim_db, migrations_command=[sys.executable, "-c", script]))
    assert PASSWORD not in str(info.value)
    assert "***" in str(info.value)


def test_missing_tables_are_refused(pg: PostgresService, sim_db: str) -> None:
    partial = (
        "import os, psycopg\n"
        "with psycopg.connect(os.environ['DB_DSN']) as c:\n"
        "    c.execute('create table trade_cursor(source text, account_label text, cursor_at timestamptz)')\n"
    )
    with pytest.raises(MissingTablesError) as info:
        provision_postgres(_plan(pg, sim_db, migrations_command=[sys.executable, "-c", partial]))
    assert "trade_decisions" in str(info.value)


def test_production_names_are_refused_before_anything_runs(pg: PostgresService) -> None:
    with pytest.raises(UnsafeNameError):
        provision_postgres(_plan(pg, "torghut"))
    with pytest.raises(UnsafeNameError):
        ensure_database(pg.dsn(), "postgres")


def test_runtime_role_is_granted(pg: PostgresService, sim_db: str, unique_name: str) -> None:
    role = f"rt_{unique_name}"
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'rt-pass'")
    try:
        provision_postgres(_plan(pg, sim_db, runtime_role=role))
        host = urlsplit(pg.dsn()).netloc.rsplit("@", 1)[1]
        with psycopg.connect(f"postgresql://{role}:rt-pass@{host}/{sim_db}") as conn:
            conn.execute("INSERT INTO trade_decisions (strategy_id, symbol) VALUES ('s', 'AMD')")
            assert conn.execute("SELECT count(*) FROM trade_decisions").fetchone() == (1,)
    finally:
        with psycopg.connect(pg.dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{sim_db}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _via(pg: PostgresService, port: int, password: str = PASSWORD) -> str:
    return f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres?sslmode=disable&gssencmode=disable"


def test_retries_until_the_server_accepts(pg: PostgresService, sim_db: str) -> None:
    port = free_port()
    proxy = TcpProxy(port, ("127.0.0.1", pg.config.ports.postgres))
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 1:
            proxy.start()  # the server "comes up" during the backoff

    try:
        created = ensure_database(_via(pg, port), sim_db, retry=RetryPolicy(sleep=sleep))
    finally:
        proxy.close()
    assert created is True
    assert len(delays) == 1


def test_retries_a_dropped_connection(pg: PostgresService, sim_db: str) -> None:
    proxy = TcpProxy(free_port(), ("127.0.0.1", pg.config.ports.postgres), drop_first=2)
    proxy.start()
    delays: list[float] = []
    try:
        created = ensure_database(_via(pg, proxy.port), sim_db, retry=_no_sleep(delays))
    finally:
        proxy.close()
    assert created is True
    assert proxy.accepted == 3
    assert delays == [0.5, 1.0]


def test_bad_password_is_not_retried(pg: PostgresService, sim_db: str) -> None:
    proxy = TcpProxy(free_port(), ("127.0.0.1", pg.config.ports.postgres))
    proxy.start()
    delays: list[float] = []
    try:
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            ensure_database(_via(pg, proxy.port, "wrong-password"), sim_db, retry=_no_sleep(delays))
    finally:
        proxy.close()
    assert delays == []
    assert proxy.accepted == 1


def _seed_run(conn: psycopg.Connection[tuple[object, ...]], run_id: str, qty: str, price: str) -> str:
    """One decision of `run_id` with an execution, an order event, TCA and an LLM review; its id."""
    decision_json = (
        '{"event_ts": "2026-02-27T14:31:00Z", "params": {"simulation_context": '
        f'{{"simulation_run_id": "{run_id}", "signal_event_ts": "2026-02-27T14:30:59Z"}}}}}}'
    )
    row = conn.execute(
        "INSERT INTO trade_decisions (strategy_id, symbol, decision_json, status, created_at) "
        "VALUES ('momo', 'NVDA', %s::jsonb, 'executed', '2026-02-27T14:31:00.250Z') RETURNING id",
        (decision_json,),
    ).fetchone()
    assert row is not None
    decision = str(row[0])
    ex = conn.execute(
        "INSERT INTO executions (trade_decision_id, client_order_id, symbol, side, submitted_qty, "
        "filled_qty, avg_fill_price, status) VALUES (%s, %s, 'NVDA', 'buy', %s, %s, %s, 'filled') "
        "RETURNING id",
        (decision, f"c-{run_id}-{qty}", qty, qty, price),
    ).fetchone()
    assert ex is not None
    conn.execute(
        "INSERT INTO execution_order_events (execution_id, trade_decision_id, source_topic, "
        "source_partition, source_offset, event_ts, symbol, event_type, status, qty, filled_qty, "
        "avg_fill_price) VALUES "
        "(%s, %s, 'torghut.sim.trade-updates.v1.x', 0, %s, now(), 'NVDA', 'fill', 'filled', %s, %s, %s)",
        (ex[0], decision, abs(hash(decision)) % 10_000_000, qty, qty, price),
    )
    conn.execute(
        "INSERT INTO execution_tca_metrics (execution_id, trade_decision_id, symbol, side, filled_qty, "
        "avg_fill_price, slippage_bps) VALUES (%s, %s, 'NVDA', 'buy', %s, %s, 1.25)",
        (ex[0], decision, qty, price),
    )
    conn.execute(
        "INSERT INTO llm_decision_reviews (trade_decision_id, model, prompt_version, verdict, confidence, "
        "tokens_prompt, tokens_completion, risk_flags, response_json) VALUES "
        "(%s, 'gpt', 'v3', 'approve', 0.8, 100, 20, '[\"thin\"]', '{\"why\": \"a\\nb\"}')",
        (decision,),
    )
    return decision


def test_export_round_trip_keeps_decimals_exact_and_scopes_the_run(
    pg: PostgresService, sim_db: str, tmp_path: Path
) -> None:
    provision_postgres(_plan(pg, sim_db))
    with psycopg.connect(pg.dsn(sim_db)) as conn:
        mine = _seed_run(conn, "sim-20260227-01", "123.4567891234", "98765.0000000001")
        _seed_run(conn, "sim-20260227-02", "1", "2")
    paths = run_paths(tmp_path, "sim_20260227_01")
    manifest = export_run(paths, pg.dsn(sim_db), "sim-20260227-01")

    assert manifest.decisions_scoped_by_run_id is True
    for table, schema in EXPORT_SCHEMAS.items():
        read = pq.read_table(paths.output_table(table))
        assert read.schema.equals(schema), table
    executions = pq.read_table(paths.output_table("executions")).to_pylist()
    assert len(executions) == 1
    assert executions[0]["trade_decision_id"] == mine
    assert executions[0]["submitted_qty"] == Decimal("123.4567891234")
    assert executions[0]["avg_fill_price"] == Decimal("98765.0000000001")
    reviews = pq.read_table(paths.output_table("llm_decision_reviews")).to_pylist()
    assert [json.loads(r["response_json"]) for r in reviews] == [{"why": "a\nb"}]
    decisions = pq.read_table(paths.output_table("trade_decisions")).to_pylist()
    assert decisions[0]["created_at"] == datetime(2026, 2, 27, 14, 31, 0, 250000, tzinfo=UTC)
    cursor = pq.read_table(paths.output_table("trade_cursor")).to_pylist()
    assert cursor == [{"source": "clickhouse", "account_label": "paper", "cursor_at": WINDOW_START}]

    written = json.loads(paths.export_manifest.read_text())
    assert written["files"]["executions"]["rows"] == 1
    assert written["files"]["execution_order_events"]["rows"] == 1
    for entry in written["files"].values():
        data = (paths.outputs_dir / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert written["files"]["last_prices"]["rows"] == 0
    assert PASSWORD not in paths.export_manifest.read_text()


def test_export_takes_every_decision_when_none_carries_a_run_id(
    pg: PostgresService, sim_db: str, tmp_path: Path
) -> None:
    provision_postgres(_plan(pg, sim_db))
    with psycopg.connect(pg.dsn(sim_db)) as conn:
        conn.execute("INSERT INTO trade_decisions (strategy_id, symbol) VALUES ('a', 'AMD'), ('b', 'MU')")
    manifest = export_run(run_paths(tmp_path, "x"), pg.dsn(sim_db), "sim-20260227-01")
    assert manifest.decisions_scoped_by_run_id is False
    assert {f.table: f.rows for f in manifest.files}["trade_decisions"] == 2


def test_row_count_deltas_of_a_run(pg: PostgresService, sim_db: str) -> None:
    provision_postgres(_plan(pg, sim_db))
    before = postgres_counts(pg.dsn(sim_db), [*POSTGRES_TABLES, "not_a_table"])
    with psycopg.connect(pg.dsn(sim_db)) as conn:
        _seed_run(conn, "sim-20260227-01", "1", "2")
    deltas = {d.table: d for d in row_deltas("postgres", before, postgres_counts(pg.dsn(sim_db)))}
    assert before["not_a_table"] is None and before["trade_cursor"] == 1
    assert deltas["trade_decisions"].delta == 1 and deltas["executions"].delta == 1
    assert deltas["trade_cursor"].delta == 0
