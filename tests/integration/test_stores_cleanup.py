"""Cleanup against real servers: only old finished simulation runs go, the locked run and everything
outside the simulation namespaces stay, and a dry run changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from torghut_sim.cli import main
from torghut_sim.devstack.clickhouse import PASSWORD, USERNAME, ClickHouseService
from torghut_sim.devstack.postgres import PostgresService
from torghut_sim.devstack.service import Service
from torghut_sim.kafka.readiness import create_topics
from torghut_sim.stores.cleanup import execute_cleanup, plan_cleanup
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint


@pytest.fixture
def prefix() -> str:
    """A token prefix private to this test, so other tests' databases are never touched."""
    return f"c{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def stack(
    postgres_service: Service, clickhouse_service: Service, kafka_service: Service, prefix: str
) -> Iterator[dict[str, Any]]:
    """Old, recent, locked and undated runs on all three servers, plus a non-simulation database and group."""
    assert isinstance(postgres_service, PostgresService)
    assert isinstance(clickhouse_service, ClickHouseService)
    tokens = {
        "old": f"{prefix}sim_20200102_01",
        "locked": f"{prefix}sim_20200103_01",
        "recent": f"{prefix}sim_{(datetime.now(UTC) - timedelta(days=1)):%Y%m%d}_01",
        "undated": f"{prefix}scratch",
    }
    bystander = f"t_{prefix}keep"
    ch = clickhouse_service.client()
    kafka = {"bootstrap.servers": kafka_service.endpoints()["bootstrap_servers"]}
    admin = AdminClient(kafka)
    topics = [f"torghut.sim.trades.v1.{t}" for t in tokens.values()]
    with psycopg.connect(postgres_service.dsn(), autocommit=True) as pg:
        for token in tokens.values():
            pg.execute(f'CREATE DATABASE "torghut_sim_{token}"')
            ch.command(f"CREATE DATABASE torghut_sim_{token}")
        pg.execute(f'CREATE DATABASE "{bystander}"')
    ch.command(f"CREATE DATABASE {bystander}")
    create_topics(kafka, dict.fromkeys(topics, 1))
    # A group exists once it has committed an offset; the bystander looks like a production group.
    groups = [f"{p}{t}" for t in tokens.values() for p in ("torghut-ta-sim-", "torghut-order-feed-sim-")]
    bystander_group = f"torghut-ta-{prefix}keep"
    for group in [*groups, bystander_group]:
        consumer = Consumer({**kafka, "group.id": group, "enable.auto.commit": False})
        consumer.commit(offsets=[TopicPartition(topics[0], 0, 0)], asynchronous=False)
        consumer.close()
    yield {
        "tokens": tokens,
        "bystander": bystander,
        "kafka": kafka,
        "topics": topics,
        "groups": groups,
        "bystander_group": bystander_group,
        "ch": ch,
        "admin_dsn": postgres_service.dsn(),
        "endpoint": ClickHouseEndpoint(clickhouse_service.http_url, USERNAME, PASSWORD),
    }
    with psycopg.connect(postgres_service.dsn(), autocommit=True) as pg:
        for token in tokens.values():
            pg.execute(f'DROP DATABASE IF EXISTS "torghut_sim_{token}" WITH (FORCE)')
            ch.command(f"DROP DATABASE IF EXISTS torghut_sim_{token} SYNC")
        pg.execute(f'DROP DATABASE IF EXISTS "{bystander}" WITH (FORCE)')
    ch.command(f"DROP DATABASE IF EXISTS {bystander} SYNC")
    existing = set(admin.list_topics(timeout=15).topics)
    leftover = [t for t in topics if t in existing]
    if leftover:
        for future in admin.delete_topics(leftover).values():
            future.result(30)
    listed = {g.group_id for g in admin.list_consumer_groups().result(30).valid}
    leftover_groups = [g for g in [*groups, bystander_group] if g in listed]
    if leftover_groups:
        for future in admin.delete_consumer_groups(leftover_groups).values():
            future.result(30)


def _present(stack: dict[str, Any]) -> dict[str, set[str]]:
    with psycopg.connect(stack["admin_dsn"]) as pg:
        pg_names = {str(r[0]) for r in pg.execute("SELECT datname FROM pg_database")}
    ch_names = {str(r[0]) for r in stack["ch"].query("SELECT name FROM system.databases").result_rows}
    admin = AdminClient(stack["kafka"])
    topics = set(admin.list_topics(timeout=15).topics)
    groups = {g.group_id for g in admin.list_consumer_groups().result(30).valid}
    return {"postgres": pg_names, "clickhouse": ch_names, "topics": topics, "groups": groups}


def test_drops_only_old_finished_runs_and_spares_the_locked_one(stack: dict[str, Any], prefix: str) -> None:
    tokens = stack["tokens"]
    plan = plan_cleanup(
        datetime.now(UTC),
        timedelta(days=14),
        tokens["locked"],
        [stack["endpoint"]],
        stack["admin_dsn"],
        stack["kafka"],
        token_prefix=prefix,
    )
    dropping = {(i.kind, i.run_token) for i in plan.to_drop}
    assert dropping == {
        ("clickhouse_database", tokens["old"]),
        ("postgres_database", tokens["old"]),
        ("topic", tokens["old"]),
        ("consumer_group", tokens["old"]),
    }
    assert {i.name for i in plan.to_drop if i.kind == "consumer_group"} == {
        f"torghut-ta-sim-{tokens['old']}",
        f"torghut-order-feed-sim-{tokens['old']}",
    }
    assert {i.reason for i in plan.items if i.run_token == tokens["locked"]} == {"run holds the runtime lock"}

    execute_cleanup(plan, [stack["endpoint"]], stack["admin_dsn"], stack["kafka"])
    present = _present(stack)
    names = {
        "postgres": "torghut_sim_{}",
        "clickhouse": "torghut_sim_{}",
        "topics": "torghut.sim.trades.v1.{}",
    }
    for key, name_of in names.items():
        assert name_of.format(tokens["old"]) not in present[key]
        for kept in ("locked", "recent", "undated"):
            assert name_of.format(tokens[kept]) in present[key]
    assert stack["bystander"] in present["postgres"] and stack["bystander"] in present["clickhouse"]
    assert {g for g in stack["groups"] if g not in present["groups"]} == {
        f"torghut-ta-sim-{tokens['old']}",
        f"torghut-order-feed-sim-{tokens['old']}",
    }
    assert stack["bystander_group"] in present["groups"]


def test_cli_is_a_dry_run_by_default(
    stack: dict[str, Any], prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("T_ADMIN_DSN", stack["admin_dsn"])
    monkeypatch.setenv("T_CH_PASSWORD", PASSWORD)
    args = [
        "cleanup",
        "--older-than",
        "14d",
        "--token-prefix",
        prefix,
        "--clickhouse-url",
        stack["endpoint"].http_url,
        "--clickhouse-user",
        USERNAME,
        "--clickhouse-password-env",
        "T_CH_PASSWORD",
        "--postgres-admin-dsn-env",
        "T_ADMIN_DSN",
        "--kafka-bootstrap",
        stack["kafka"]["bootstrap.servers"],
    ]
    before = _present(stack)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"would drop postgres_database   torghut_sim_{stack['tokens']['old']}" in out
    assert "dry run" in out
    assert PASSWORD not in out
    assert _present(stack)["postgres"] >= {f"torghut_sim_{t}" for t in stack["tokens"].values()}
    assert before["topics"] <= _present(stack)["topics"]
    assert before["clickhouse"] <= _present(stack)["clickhouse"]
    assert before["groups"] <= _present(stack)["groups"]
