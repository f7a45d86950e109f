"""Cleanup of finished simulation runs: their ClickHouse and Postgres databases, topics and consumer groups.

Only names in the simulation namespaces are ever considered (`torghut_sim_*` databases,
`torghut.sim.<base>.<run_token>` topics, the `torghut-ta-sim-<run_token>` and
`torghut-order-feed-sim-<run_token>` consumer groups); the run holding the runtime lock is always
kept; a run is old enough when the trading day in its token (`sim-YYYYMMDD-NN` → `sim_yyyymmdd_nn`) is
more than the retention before today, and a name without a trading day is kept (its age is unknown).
Planning never changes anything; `execute_cleanup` drops exactly the planned `drop` items, re-checking
every guard.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import psycopg
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from psycopg import sql

from torghut_sim.kafka.connection import quiet
from torghut_sim.secrets import redact_dsn
from torghut_sim.stores.clickhouse_provision import (
    ClickHouseEndpoint,
    drop_simulation_database,
    list_simulation_databases,
)
from torghut_sim.stores.errors import CleanupRefusedError, StoreError, UnsafeNameError
from torghut_sim.stores.kafka_admin import delete_consumer_groups, delete_topics
from torghut_sim.stores.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from torghut_sim.stores.safety import (
    SIMULATION_DATABASE_PREFIX,
    require_simulation_database,
    require_simulation_group,
    require_simulation_topic,
    simulation_group_token,
)
from torghut_sim.topics import TOPIC_ROLES

_DAY_RE = re.compile(r"(?:^|_)(\d{8})(?:_|$)")
_RETENTION_RE = re.compile(r"^(\d+)([dh])$")

KIND_CLICKHOUSE = "clickhouse_database"
KIND_POSTGRES = "postgres_database"
KIND_TOPIC = "topic"
KIND_GROUP = "consumer_group"


def parse_retention(text: str) -> timedelta:
    """`14d` or `36h` as a timedelta."""
    match = _RETENTION_RE.fullmatch(text.strip())
    if match is None:
        raise CleanupRefusedError(f"retention {text!r} is not like 14d or 36h")
    amount = int(match.group(1))
    return timedelta(days=amount) if match.group(2) == "d" else timedelta(hours=amount)


def token_of_database(name: str) -> str | None:
    """The run token of a simulation database name, or None for any other name."""
    try:
        require_simulation_database(name)
    except UnsafeNameError:
        return None
    return name[len(SIMULATION_DATABASE_PREFIX) :]


def token_of_topic(name: str) -> str | None:
    """The run token of a run-suffixed simulation topic, or None for any other topic."""
    for role in TOPIC_ROLES:
        prefix = role.simulation_base + "."
        if name.startswith(prefix) and len(name) > len(prefix):
            token = name[len(prefix) :]
            return token if "." not in token else None
    return None


def trading_day_of(token: str) -> date | None:
    """The trading day encoded in a run token (`sim_20260227_01` → 2026-02-27), if any."""
    for match in _DAY_RE.finditer(token):
        try:
            return datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class CleanupItem:
    """One simulation object and what cleanup does with it."""

    kind: str
    name: str
    server: str
    run_token: str
    trading_day: date | None
    action: str  # "drop" | "keep"
    reason: str

    def to_json(self) -> dict[str, object]:
        """The item as shown by `torghut-sim cleanup --json`."""
        data = asdict(self)
        data["trading_day"] = self.trading_day.isoformat() if self.trading_day else None
        return data


@dataclass(frozen=True)
class CleanupPlan:
    """Everything found in the simulation namespaces, with a decision each."""

    cutoff: date
    locked_run_token: str | None
    items: tuple[CleanupItem, ...] = field(default_factory=tuple)

    @property
    def to_drop(self) -> tuple[CleanupItem, ...]:
        """The items that `execute_cleanup` will drop."""
        return tuple(i for i in self.items if i.action == "drop")


def decide(
    kind: str, name: str, server: str, token: str, cutoff: date, locked_run_token: str | None
) -> CleanupItem:
    """Keep or drop one simulation object."""
    day = trading_day_of(token)
    if locked_run_token and token == locked_run_token:
        return CleanupItem(kind, name, server, token, day, "keep", "run holds the runtime lock")
    if day is None:
        return CleanupItem(kind, name, server, token, day, "keep", "no trading day in the run token")
    if day >= cutoff:
        return CleanupItem(kind, name, server, token, day, "keep", f"within retention (cutoff {cutoff})")
    return CleanupItem(kind, name, server, token, day, "drop", f"finished run older than {cutoff}")


def _postgres_databases(admin_dsn: str, retry: RetryPolicy) -> list[str]:
    def attempt() -> list[str]:
        with psycopg.connect(admin_dsn, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'torghut\\_sim\\_%' ORDER BY datname"
            ).fetchall()
        return [str(r[0]) for r in rows]

    return with_retry(attempt, retry)


def _topics(admin: AdminClient) -> list[str]:
    try:
        metadata = admin.list_topics(timeout=15)
    except KafkaException as exc:
        raise StoreError(f"listing topics failed: {exc}") from exc
    return sorted(metadata.topics)


def _groups(admin: AdminClient) -> list[str]:
    try:
        listed = admin.list_consumer_groups(request_timeout=15).result(30)
    except KafkaException as exc:
        raise StoreError(f"listing consumer groups failed: {exc}") from exc
    if listed.errors:
        raise StoreError(f"listing consumer groups failed: {listed.errors[0]}")
    return sorted(g.group_id for g in listed.valid)


def plan_cleanup(
    now: datetime,
    older_than: timedelta,
    locked_run_token: str | None,
    clickhouse: Sequence[ClickHouseEndpoint] = (),
    postgres_admin_dsn: str | None = None,
    kafka_config: Mapping[str, str] | None = None,
    token_prefix: str = "",
    retry: RetryPolicy = DEFAULT_RETRY,
) -> CleanupPlan:
    """List every simulation object on the given servers and decide keep or drop; changes nothing."""
    cutoff = (now - older_than).date()
    items: list[CleanupItem] = []

    def add(kind: str, name: str, server: str, token: str | None) -> None:
        if token is not None and token.startswith(token_prefix):
            items.append(decide(kind, name, server, token, cutoff, locked_run_token))

    for endpoint in clickhouse:
        for name in list_simulation_databases(endpoint):
            add(KIND_CLICKHOUSE, name, endpoint.redacted(), token_of_database(name))
    if postgres_admin_dsn is not None:
        server = redact_dsn(postgres_admin_dsn)
        for name in _postgres_databases(postgres_admin_dsn, retry):
            add(KIND_POSTGRES, name, server, token_of_database(name))
    if kafka_config is not None:
        server = str(kafka_config.get("bootstrap.servers", ""))
        admin = AdminClient(quiet(kafka_config))
        for name in _topics(admin):
            add(KIND_TOPIC, name, server, token_of_topic(name))
        for name in _groups(admin):
            add(KIND_GROUP, name, server, simulation_group_token(name))
    return CleanupPlan(cutoff, locked_run_token, tuple(items))


def drop_postgres_database(admin_dsn: str, name: str, retry: RetryPolicy = DEFAULT_RETRY) -> None:
    """Drop one simulation Postgres database, disconnecting its sessions (refusing any other name)."""
    require_simulation_database(name)

    def attempt() -> None:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    with_retry(attempt, retry)


# Per kind: the guard that refuses foreign names, and the run token a name belongs to.
_NAME_RULES: dict[str, tuple[Callable[[str], str], Callable[[str], str | None]]] = {
    KIND_CLICKHOUSE: (require_simulation_database, token_of_database),
    KIND_POSTGRES: (require_simulation_database, token_of_database),
    KIND_TOPIC: (require_simulation_topic, token_of_topic),
    KIND_GROUP: (require_simulation_group, simulation_group_token),
}


def _guard(item: CleanupItem, locked_run_token: str | None) -> None:
    if locked_run_token and item.run_token == locked_run_token:
        raise CleanupRefusedError(f"refusing to drop {item.name}: its run holds the runtime lock")
    require, token_of = _NAME_RULES[item.kind]
    try:
        require(item.name)
    except UnsafeNameError as exc:
        raise CleanupRefusedError(str(exc.message)) from exc
    if token_of(item.name) != item.run_token:
        raise CleanupRefusedError(f"{item.name} does not belong to run {item.run_token}")


def execute_cleanup(
    plan: CleanupPlan,
    clickhouse: Sequence[ClickHouseEndpoint] = (),
    postgres_admin_dsn: str | None = None,
    kafka_config: Mapping[str, str] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> list[CleanupItem]:
    """Drop the plan's `drop` items; every guard is checked for every item before anything is dropped."""
    targets = plan.to_drop
    for item in targets:
        _guard(item, plan.locked_run_token)
    by_server = {e.redacted(): e for e in clickhouse}
    for item in targets:
        if item.kind == KIND_CLICKHOUSE:
            endpoint = by_server.get(item.server)
            if endpoint is None:
                raise CleanupRefusedError(f"no ClickHouse endpoint given for {item.server}")
            drop_simulation_database(endpoint, item.name)
        elif item.kind == KIND_POSTGRES:
            if postgres_admin_dsn is None:
                raise CleanupRefusedError("no Postgres admin DSN given")
            drop_postgres_database(postgres_admin_dsn, item.name, retry)
    topics = [i.name for i in targets if i.kind == KIND_TOPIC]
    groups = [i.name for i in targets if i.kind == KIND_GROUP]
    if topics or groups:
        if kafka_config is None:
            raise CleanupRefusedError("no Kafka configuration given")
        delete_topics(kafka_config, topics)
        delete_consumer_groups(kafka_config, groups)
    return list(targets)
