"""The mutation of each kind of entry point: a manifest's run, a dump or replay, a runtime patch, restore."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from torghut_sim.guards.mutation import Mutation, guard_mutation, mutation_guards, run_check
from torghut_sim.guards.names import check_dsn_database
from torghut_sim.guards.results import GuardResult
from torghut_sim.layout import RunPaths
from torghut_sim.manifest import DatasetManifest, WindowSpec
from torghut_sim.naming import (
    ORDER_FEED_GROUP_PREFIX,
    TA_GROUP_PREFIX,
    RunNames,
)
from torghut_sim.runtime.model import read_state
from torghut_sim.topics import (
    DUMPED_ROLES,
    TOPIC_ROLES,
    simulation_topic,
)


def manifest_mutation(
    manifest: DatasetManifest,
    names: RunNames,
    entry_point: str,
    runtime_env: Mapping[str, str] | None = None,
    allow_non_trading_day: bool = False,
) -> Mutation:
    """What a run of a manifest changes: its window, both simulation databases, topics, runtime and env."""
    clickhouse_db = manifest.clickhouse.simulation_database or names.simulation_database
    postgres_db = manifest.postgres.simulation_database(names.simulation_database)
    runtime_dsn = manifest.postgres.runtime_simulation_dsn_for(postgres_db)
    extra: tuple[GuardResult, ...] = ()
    if runtime_env is None:
        # Without the built env, the runtime's DSN is still guarded: it is what DB_DSN will be.
        extra = (run_check("runtime_dsn", lambda: check_dsn_database(runtime_dsn, "runtime simulation DSN")),)
    return Mutation(
        entry_point=entry_point,
        run_id=names.run_id,
        run_token=names.run_token,
        window=manifest.window,
        allow_non_trading_day=allow_non_trading_day,
        clickhouse_databases=(clickhouse_db,),
        postgres_databases=(postgres_db,),
        topics=tuple(names.simulation_topics),
        source_topics=tuple(r.source for r in DUMPED_ROLES),
        env_overrides=manifest.torghut_env_overrides,
        runtime_env=runtime_env,
        runtime_service=manifest.runtime.torghut_service,
        extra=extra,
    )


def run_guards(
    manifest: DatasetManifest,
    names: RunNames,
    runtime_env: Mapping[str, str],
    postgres_database: str,
    allow_non_trading_day: bool = False,
) -> list[GuardResult]:
    """Every guard of a manifest's run, in a stable order; nothing is raised."""
    m = manifest_mutation(manifest, names, "plan", runtime_env, allow_non_trading_day)
    return mutation_guards(replace(m, postgres_databases=(postgres_database,)))


def run_topics(run_token: str) -> tuple[tuple[str, str], ...]:
    """(role, topic) of every simulation topic a run token names."""
    return tuple((r.role, simulation_topic(r.role, run_token)) for r in TOPIC_ROLES)


def dumped_topics_mutation(entry_point: str, run_token: str, source_topics: Iterable[str]) -> Mutation:
    """What a dump or replay for a run touches: the run's topic of each dumped role, read from the sources."""
    return Mutation(
        entry_point=entry_point,
        run_token=run_token,
        topics=tuple((r.role, simulation_topic(r.role, run_token)) for r in DUMPED_ROLES),
        source_topics=tuple(source_topics),
    )


def runtime_mutation(
    entry_point: str,
    run_id: str,
    run_token: str,
    runtime_service: str,
    ta_config: Mapping[str, str],
    runtime_env: Mapping[str, str],
    clickhouse_database: str,
    postgres_database: str | None = None,
    window: WindowSpec | None = None,
) -> Mutation:
    """What locking and patching a runtime changes: the TA ConfigMap, the runtime env, their stores."""
    return Mutation(
        entry_point=entry_point,
        run_id=run_id,
        run_token=run_token,
        window=window,
        # The calendar was judged when the day was planned; here the window only has to be ordered.
        allow_non_trading_day=True,
        clickhouse_databases=(clickhouse_database,),
        postgres_databases=(postgres_database,) if postgres_database is not None else (),
        topics=run_topics(run_token),
        source_topics=tuple(r.source for r in DUMPED_ROLES),
        consumer_groups=(f"{TA_GROUP_PREFIX}{run_token}", f"{ORDER_FEED_GROUP_PREFIX}{run_token}"),
        runtime_env=runtime_env,
        ta_config=ta_config,
        runtime_service=runtime_service,
    )


def guard_restore(paths: RunPaths, entry_point: str) -> None:
    """Before a teardown writes captured values back: the captured run and runtime are a simulation's."""
    if not paths.state.exists():
        return  # nothing was captured, so nothing will be written back
    state = read_state(paths.state)
    service = state.by_role("knative_service")
    guard_mutation(
        Mutation(
            entry_point=entry_point,
            run_id=state.run_id,
            run_token=state.run_token,
            runtime_service=service.name if service is not None else None,
        )
    )
