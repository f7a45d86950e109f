"""Guards on the names a run writes to: simulation databases, topics, consumer groups and the run token."""

from __future__ import annotations

import re
from collections.abc import Iterable

from torghut_sim.errors import TorghutSimError
from torghut_sim.guards.results import GuardRefusalError
from torghut_sim.naming import (
    ORDER_FEED_GROUP_PREFIX,
    SIMULATION_DATABASE_PREFIX,
    TA_GROUP_PREFIX,
    run_token_for,
)
from torghut_sim.secrets import dsn_database
from torghut_sim.topics import (
    PRODUCTION_TOPICS,
    SIMULATION_TOPIC_PREFIX,
)

# Names the production side uses; a simulation must never write to them.
PRODUCTION_DATABASES: frozenset[str] = frozenset(
    {"torghut", "postgres", "default", "system", "template0", "template1"}
)
# Postgres silently truncates longer identifiers, which could merge two runs' databases.
MAX_DATABASE_NAME = 63
_DATABASE_NAME = re.compile(r"^[a-z0-9_]+$")
_RUN_TOKEN = re.compile(r"^[a-z0-9_]+$")


def check_simulation_database(name: str, production: Iterable[str] = PRODUCTION_DATABASES) -> None:
    """A simulation database is `torghut_sim_*`, a plain identifier, not production, ≤ 63 chars."""
    if name in set(production):
        raise GuardRefusalError(f"database {name!r} is a production database", reason="production_database")
    if not name.startswith(SIMULATION_DATABASE_PREFIX):
        raise GuardRefusalError(
            f"database {name!r} does not start with {SIMULATION_DATABASE_PREFIX!r}",
            reason="simulation_database_prefix",
        )
    if not _DATABASE_NAME.fullmatch(name):
        raise GuardRefusalError(
            f"database {name!r} may only use a-z, 0-9 and _", reason="simulation_database_invalid"
        )
    if len(name) > MAX_DATABASE_NAME:
        raise GuardRefusalError(
            f"database {name!r} is longer than {MAX_DATABASE_NAME} characters",
            reason="simulation_database_too_long",
        )


def check_simulation_topic(topic: str, sources: Iterable[str] = PRODUCTION_TOPICS) -> None:
    """A simulation topic is `torghut.sim.*` and never a production/source topic."""
    if topic in set(sources) | PRODUCTION_TOPICS:
        raise GuardRefusalError(f"topic {topic!r} is a production topic", reason="production_topic")
    if not topic.startswith(SIMULATION_TOPIC_PREFIX):
        raise GuardRefusalError(
            f"topic {topic!r} does not start with {SIMULATION_TOPIC_PREFIX!r}",
            reason="simulation_topic_prefix",
        )


def check_replay_targets(targets: Iterable[str], sources: Iterable[str]) -> None:
    """Replay never produces to a topic it reads from."""
    overlap = sorted(set(targets) & set(sources))
    if overlap:
        raise GuardRefusalError(
            f"replay targets are also sources: {', '.join(overlap)}", reason="replay_target_is_source"
        )


def check_run_token(run_token: str, run_id: str | None = None) -> None:
    """A run token is a plain `[a-z0-9_]` identifier and, given a run id, the one derived from it."""
    if not _RUN_TOKEN.fullmatch(run_token):
        raise GuardRefusalError(
            f"run token {run_token!r} may only use a-z, 0-9 and _", reason="invalid_run_token"
        )
    if run_id is None:
        return
    try:
        expected = run_token_for(run_id)
    except TorghutSimError as exc:
        raise GuardRefusalError(exc.message, reason=exc.reason) from None
    if run_token != expected:
        raise GuardRefusalError(
            f"run token {run_token!r} is not the token of run id {run_id!r} ({expected!r})",
            reason="run_token_mismatch",
        )


def check_dsn_database(dsn: str, what: str) -> None:
    """The database a DSN points at is a simulation database."""
    try:
        database = dsn_database(dsn)
    except TorghutSimError as exc:
        raise GuardRefusalError(f"{what}: {exc.message}", reason=exc.reason) from None
    try:
        check_simulation_database(database)
    except GuardRefusalError as exc:
        raise GuardRefusalError(f"{what}: {exc.message}", reason=exc.reason) from None


def check_consumer_group(group: str) -> None:
    """A consumer group a run uses or deletes is one of a run's own (`torghut-ta-sim-<token>`, …)."""
    for prefix in (TA_GROUP_PREFIX, ORDER_FEED_GROUP_PREFIX):
        if group.startswith(prefix) and _RUN_TOKEN.fullmatch(group[len(prefix) :]):
            return
    raise GuardRefusalError(
        f"consumer group {group!r} is not a simulation run's group", reason="production_consumer_group"
    )
