"""The one guard entry point: every guard that applies to what a mutation will change, refused before it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torghut_sim.guards.names import (
    check_consumer_group,
    check_replay_targets,
    check_run_token,
    check_simulation_database,
    check_simulation_topic,
)
from torghut_sim.guards.results import GuardRefusalError, GuardResult, GuardsRefusedError
from torghut_sim.guards.runtime import (
    check_env_overrides,
    check_paper_env,
    check_runtime_env_targets,
    check_runtime_target,
    check_ta_config,
)
from torghut_sim.guards.window import check_window, check_window_coverage
from torghut_sim.manifest import WindowSpec


def run_check(name: str, check: Callable[[], None]) -> GuardResult:
    """Run one check and turn its refusal into a result."""
    try:
        check()
    except GuardRefusalError as exc:
        return GuardResult(name, False, exc.reason, exc.message)
    return GuardResult(name, True, None, "ok")


@dataclass(frozen=True)
class Mutation:
    """The values one mutating entry point is about to use, exactly as it will use them.

    Fields left empty are not part of that entry point's effect; every set field is guarded.
    """

    entry_point: str
    run_id: str | None = None
    run_token: str | None = None
    window: WindowSpec | None = None
    allow_non_trading_day: bool = False
    clickhouse_databases: tuple[str, ...] = ()
    postgres_databases: tuple[str, ...] = ()
    topics: tuple[tuple[str, str], ...] = ()  # (label, topic)
    source_topics: tuple[str, ...] = ()
    consumer_groups: tuple[str, ...] = ()
    runtime_service: str | None = None
    runtime_env: Mapping[str, str] | None = None
    ta_config: Mapping[str, str] | None = None
    env_overrides: Mapping[str, str] | None = None
    extra: tuple[GuardResult, ...] = field(default=())


def mutation_guards(m: Mutation) -> list[GuardResult]:
    """Every guard that applies to a mutation, in a stable order; nothing is raised."""
    results: list[GuardResult] = []
    if m.run_token is not None:
        token = m.run_token
        results.append(run_check("run_token", lambda: check_run_token(token, m.run_id)))
    if m.window is not None:
        window = m.window
        results += [
            run_check("window", lambda: check_window(window, m.allow_non_trading_day)),
            run_check("window_coverage", lambda: check_window_coverage(window)),
        ]
    for label, dbs in (
        ("clickhouse_database", m.clickhouse_databases),
        ("postgres_database", m.postgres_databases),
    ):
        for db in dbs:
            name = label if len(dbs) == 1 else f"{label}:{db}"
            results.append(run_check(name, functools.partial(check_simulation_database, db)))
    for label, topic in m.topics:
        results.append(
            run_check(f"topic:{label}", functools.partial(check_simulation_topic, topic, m.source_topics))
        )
    if m.topics and m.source_topics:
        targets = [t for _, t in m.topics]
        results.append(run_check("replay_targets", lambda: check_replay_targets(targets, m.source_topics)))
    for group in m.consumer_groups:
        results.append(run_check(f"consumer_group:{group}", functools.partial(check_consumer_group, group)))
    if m.env_overrides is not None:
        overrides = m.env_overrides
        results.append(run_check("env_overrides", lambda: check_env_overrides(overrides)))
    if m.runtime_env is not None:
        env = m.runtime_env
        results += [
            run_check("paper_only_env", lambda: check_paper_env(env)),
            run_check("runtime_env_targets", lambda: check_runtime_env_targets(env)),
        ]
    if m.ta_config is not None:
        ta = m.ta_config
        results.append(run_check("ta_config", lambda: check_ta_config(ta)))
    if m.runtime_service is not None:
        service = m.runtime_service
        results.append(run_check("runtime_service", lambda: check_runtime_target(service)))
    return results + list(m.extra)


def guard_mutation(m: Mutation) -> list[GuardResult]:
    """The one guard entry point: refuse (`GuardsRefusedError`, first reason) before anything is changed."""
    results = mutation_guards(m)
    if any(not r.ok for r in results):
        raise GuardsRefusedError(results, entry_point=m.entry_point)
    return results


def enforce(results: list[GuardResult]) -> None:
    """Refuse when any guard failed."""
    if any(not r.ok for r in results):
        raise GuardsRefusedError(results)
