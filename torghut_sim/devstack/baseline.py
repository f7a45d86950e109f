"""The production side of the local stack: what a real cluster already holds before any simulation.

The upstream runtime objects (ApplicationSet, Knative Service, TA ConfigMap and FlinkDeployment), the
production ClickHouse tables and Postgres database that the contamination check watches, and the
Postgres database that holds the demo's Dagster instance. Idempotent, and never overwrites an object that
already exists, so it is safe while a simulation holds the runtime.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from torghut_sim.devstack.clickhouse import ClickHouseService
from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.kube import KubeService
from torghut_sim.devstack.kube_fixtures import load_fixtures
from torghut_sim.devstack.migrate import migrate
from torghut_sim.devstack.postgres import PostgresService
from torghut_sim.devstack.production_schema import ensure_production_schema

PRODUCTION_POSTGRES_DATABASE = "torghut"
DAGSTER_DATABASE = "dagster"


def ensure_database(pg: PostgresService, name: str) -> bool:
    """Create a Postgres database unless it exists; True when created."""
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return True


def ensure_baseline(config: StackConfig) -> dict[str, Any]:
    """Bring the local cluster to its production baseline; returns what was created."""
    kube, clickhouse, postgres = KubeService(config), ClickHouseService(config), PostgresService(config)
    for svc in (kube, clickhouse, postgres):
        if not svc.healthy():
            raise DevstackError("service_not_running", f"{svc.name} is not running; run `devstack up` first")
    api = kube.api_client()
    try:
        created_objects = load_fixtures(api, replace=False)
    finally:
        api.close()
    client = clickhouse.client()
    try:
        ensure_production_schema(client)
    finally:
        client.close()
    created_pg = ensure_database(postgres, PRODUCTION_POSTGRES_DATABASE)
    migrate(postgres.dsn(PRODUCTION_POSTGRES_DATABASE))
    created_dagster = ensure_database(postgres, DAGSTER_DATABASE)
    return {
        "kube_objects_created": [
            f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
            for o in created_objects
        ],
        "production_postgres_created": created_pg,
        "dagster_database_created": created_dagster,
    }
