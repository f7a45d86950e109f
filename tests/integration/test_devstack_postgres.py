"""The local Postgres is a real server: databases come and go, and a migration command runs against one."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from torghut_sim.devstack.postgres import PASSWORD, PostgresService
from torghut_sim.devstack.service import Service


def _pg(svc: Service) -> PostgresService:
    assert isinstance(svc, PostgresService)
    return svc


def test_create_migrate_and_drop_database(postgres_service: Service, unique_name: str) -> None:
    pg = _pg(postgres_service)
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(f'create database "{unique_name}"')
    migration = (
        "import os, psycopg\n"
        "with psycopg.connect(os.environ['DB_DSN']) as c:\n"
        "    c.execute('create table trade_cursor(source text, account_label text, cursor_at timestamptz)')\n"
    )
    subprocess.run(
        [sys.executable, "-c", migration], env={"DB_DSN": pg.dsn(unique_name)}, check=True, timeout=60
    )
    with psycopg.connect(pg.dsn(unique_name)) as conn:
        row = conn.execute(
            "select count(*) from information_schema.tables where table_name = 'trade_cursor'"
        ).fetchone()
    assert row == (1,)
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(f'drop database "{unique_name}"')
        gone = admin.execute("select count(*) from pg_database where datname = %s", (unique_name,)).fetchone()
    assert gone == (0,)


def test_wrong_password_is_refused(postgres_service: Service) -> None:
    pg = _pg(postgres_service)
    bad = pg.dsn().replace(f":{PASSWORD}@", ":not-the-password@")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad, connect_timeout=5)


def test_status_reports_healthy_with_redacted_dsn(postgres_service: Service) -> None:
    status = postgres_service.status()
    assert status.running and status.healthy
    assert "***" in status.endpoints["dsn"]
    assert f":{PASSWORD}@" not in status.endpoints["dsn"]
