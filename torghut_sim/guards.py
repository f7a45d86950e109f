"""Safety guards that refuse a run before any side effect (CONTRACTS §1, §7).

Each check raises a `GuardRefusalError` with a stable reason code and a message naming the offending value.
`guard_mutation` is the one entry point every command, asset and job that changes anything calls first,
on the values it will really use (a `Mutation`); `run_guards` gives the same results for a manifest's
plan, and `enforce` refuses on any failure.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from torghut_sim.calendar import NEW_YORK, CalendarError, nominal_session_window
from torghut_sim.errors import TorghutSimError
from torghut_sim.layout import RunPaths
from torghut_sim.manifest import FULL_DAY_PROFILE, DatasetManifest, WindowSpec
from torghut_sim.naming import (
    ORDER_FEED_GROUP_PREFIX,
    SIMULATION_DATABASE_PREFIX,
    TA_GROUP_PREFIX,
    RunNames,
    run_token_for,
)
from torghut_sim.runtime.model import read_state
from torghut_sim.secrets import dsn_database
from torghut_sim.topics import (
    DUMPED_ROLES,
    PRODUCTION_TOPICS,
    SIMULATION_TOPIC_PREFIX,
    TOPIC_ROLES,
    simulation_topic,
)

# Names the production side uses; a simulation must never write to them.
PRODUCTION_DATABASES: frozenset[str] = frozenset(
    {"torghut", "postgres", "default", "system", "template0", "template1"}
)
PRODUCTION_RUNTIME_SERVICES: frozenset[str] = frozenset({"torghut"})
KNOWN_WINDOW_PROFILES: frozenset[str] = frozenset({FULL_DAY_PROFILE})
# Postgres silently truncates longer identifiers, which could merge two runs' databases.
MAX_DATABASE_NAME = 63
_DATABASE_NAME = re.compile(r"^[a-z0-9_]+$")
_RUN_TOKEN = re.compile(r"^[a-z0-9_]+$")

PAPER_ONLY_ENV: Mapping[str, str] = {
    "TRADING_MODE": "paper",
    "TRADING_LIVE_ENABLED": "false",
    "TRADING_EXECUTION_ADAPTER": "simulation",
    "TRADING_SIMULATION_ENABLED": "true",
    "TRADING_UNIVERSE_SOURCE": "jangar",
}
ALLOWED_ENV_OVERRIDES: frozenset[str] = frozenset(
    {
        "TRADING_FEATURE_QUALITY_ENABLED",
        "TRADING_FEATURE_MAX_STALENESS_MS",
        "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE",
        "TRADING_FEATURE_MAX_DUPLICATE_RATIO",
        "TRADING_SIGNAL_LOOKBACK_MINUTES",
        "TRADING_SIGNAL_ALLOWED_SOURCES",
        "TRADING_ACCOUNT_LABEL",
        "TRADING_SIMULATION_FETCH_WINDOW_SECONDS",
    }
)


class GuardRefusalError(TorghutSimError):
    """One safety guard refused; `reason` says which rule."""

    reason = "guard_refused"


class GuardsRefusedError(TorghutSimError):
    """At least one guard refused; carries every result, `reason` is the first refusal's."""

    reason = "guard_refused"

    def __init__(self, results: list[GuardResult], entry_point: str | None = None) -> None:
        self.results = results
        self.entry_point = entry_point
        failed = [r for r in results if not r.ok]
        text = "; ".join(r.message for r in failed)
        prefix = f"{entry_point} refused: " if entry_point else ""
        super().__init__(prefix + text, reason=failed[0].reason if failed else None)


@dataclass(frozen=True)
class GuardResult:
    """The outcome of one guard on one subject."""

    name: str
    ok: bool
    reason: str | None
    message: str

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view for the plan."""
        return {"name": self.name, "ok": self.ok, "reason": self.reason, "message": self.message}


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


def check_paper_env(env: Mapping[str, str]) -> None:
    """The runtime env is paper-only: every required key has exactly its required value."""
    wrong = [
        f"{key}={env.get(key)!r} (required {value!r})"
        for key, value in PAPER_ONLY_ENV.items()
        if env.get(key) != value
    ]
    if wrong:
        raise GuardRefusalError(f"runtime env is not paper-only: {', '.join(wrong)}", reason="not_paper_only")


def check_env_overrides(overrides: Mapping[str, str]) -> None:
    """Manifest env overrides use only allow-listed keys."""
    refused = sorted(set(overrides) - ALLOWED_ENV_OVERRIDES)
    if refused:
        raise GuardRefusalError(
            f"env overrides outside the allow-list: {', '.join(refused)}", reason="env_override_not_allowed"
        )


def check_runtime_target(service: str) -> None:
    """The simulation patches a dedicated runtime service, never the production one."""
    if service in PRODUCTION_RUNTIME_SERVICES:
        raise GuardRefusalError(
            f"runtime service {service!r} is the production service", reason="production_runtime_service"
        )


def check_window(window: WindowSpec, allow_non_trading_day: bool = False) -> None:
    """The window is ordered and long enough; the full-day profile is exactly the NYSE session."""
    if window.end <= window.start:
        raise GuardRefusalError(
            f"window end {window.end.isoformat()} is not after start {window.start.isoformat()}",
            reason="invalid_window",
        )
    if window.profile is None:
        return
    if window.profile not in KNOWN_WINDOW_PROFILES:
        raise GuardRefusalError(f"unknown window profile {window.profile!r}", reason="unknown_window_profile")
    if window.timezone != str(NEW_YORK):
        raise GuardRefusalError(
            f"profile {window.profile} requires timezone {NEW_YORK}, got {window.timezone!r}",
            reason="full_day_timezone",
        )
    day = window.trading_day or window.start.astimezone(NEW_YORK).date()
    try:
        session = nominal_session_window(day)
    except CalendarError as exc:
        raise GuardRefusalError(exc.message, reason=exc.reason) from None
    if not session.is_trading_day and not allow_non_trading_day:
        raise GuardRefusalError(f"{day.isoformat()} is not an NYSE trading day", reason="not_a_trading_day")
    if (window.start, window.end) != (session.session_start, session.session_end):
        raise GuardRefusalError(
            f"profile {window.profile} requires the session window {session.session_start.isoformat()}"
            f"..{session.session_end.isoformat()} of {day.isoformat()}, got "
            f"{window.start.isoformat()}..{window.end.isoformat()}",
            reason="full_day_window_mismatch",
        )
    minimum = window.min_coverage_minutes or 0
    if minimum < session.session_minutes:
        raise GuardRefusalError(
            f"min_coverage_minutes {minimum} is below the session length {session.session_minutes}",
            reason="min_coverage_too_low",
        )


def check_window_coverage(window: WindowSpec) -> None:
    """start..end spans at least min_coverage_minutes."""
    minimum = window.min_coverage_minutes or 0
    if window.minutes < minimum:
        raise GuardRefusalError(
            f"window is {window.minutes:g} minutes, shorter than min_coverage_minutes {minimum}",
            reason="window_shorter_than_coverage",
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


def _table_database(value: str, key: str) -> None:
    """`<database>.<table>` names a simulation database."""
    database, dot, _ = value.partition(".")
    if not dot:
        raise GuardRefusalError(
            f"{key}={value!r} is not <database>.<table>", reason="simulation_table_invalid"
        )
    try:
        check_simulation_database(database)
    except GuardRefusalError as exc:
        raise GuardRefusalError(f"{key}: {exc.message}", reason=exc.reason) from None


def check_runtime_env_targets(env: Mapping[str, str]) -> None:
    """Every store the runtime env points at is the run's own: DSN database, tables, order topic, group."""
    if "DB_DSN" in env:
        check_dsn_database(env["DB_DSN"], "runtime DB_DSN")
    for key in ("TRADING_SIGNAL_TABLE", "TRADING_PRICE_TABLE"):
        if key in env:
            _table_database(env[key], key)
    if "TRADING_ORDER_FEED_TOPIC" in env:
        check_simulation_topic(env["TRADING_ORDER_FEED_TOPIC"])
    if "TRADING_ORDER_FEED_GROUP_ID" in env:
        check_consumer_group(env["TRADING_ORDER_FEED_GROUP_ID"])


def check_ta_config(values: Mapping[str, str]) -> None:
    """The TA ConfigMap points at simulation topics, a run's group and a simulation ClickHouse database."""
    for key, value in sorted(values.items()):
        if key.endswith("_TOPIC"):
            check_simulation_topic(value)
    if "TA_GROUP_ID" in values:
        check_consumer_group(values["TA_GROUP_ID"])
    if "TA_CLICKHOUSE_URL" in values:
        database = urlsplit(values["TA_CLICKHOUSE_URL"].removeprefix("jdbc:")).path.lstrip("/")
        try:
            check_simulation_database(database)
        except GuardRefusalError as exc:
            raise GuardRefusalError(f"TA_CLICKHOUSE_URL: {exc.message}", reason=exc.reason) from None


def _run(name: str, check: Callable[[], None]) -> GuardResult:
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
        results.append(_run("run_token", lambda: check_run_token(token, m.run_id)))
    if m.window is not None:
        window = m.window
        results += [
            _run("window", lambda: check_window(window, m.allow_non_trading_day)),
            _run("window_coverage", lambda: check_window_coverage(window)),
        ]
    for label, dbs in (
        ("clickhouse_database", m.clickhouse_databases),
        ("postgres_database", m.postgres_databases),
    ):
        for db in dbs:
            name = label if len(dbs) == 1 else f"{label}:{db}"
            results.append(_run(name, functools.partial(check_simulation_database, db)))
    for label, topic in m.topics:
        results.append(
            _run(f"topic:{label}", functools.partial(check_simulation_topic, topic, m.source_topics))
        )
    if m.topics and m.source_topics:
        targets = [t for _, t in m.topics]
        results.append(_run("replay_targets", lambda: check_replay_targets(targets, m.source_topics)))
    for group in m.consumer_groups:
        results.append(_run(f"consumer_group:{group}", functools.partial(check_consumer_group, group)))
    if m.env_overrides is not None:
        overrides = m.env_overrides
        results.append(_run("env_overrides", lambda: check_env_overrides(overrides)))
    if m.runtime_env is not None:
        env = m.runtime_env
        results += [
            _run("paper_only_env", lambda: check_paper_env(env)),
            _run("runtime_env_targets", lambda: check_runtime_env_targets(env)),
        ]
    if m.ta_config is not None:
        ta = m.ta_config
        results.append(_run("ta_config", lambda: check_ta_config(ta)))
    if m.runtime_service is not None:
        service = m.runtime_service
        results.append(_run("runtime_service", lambda: check_runtime_target(service)))
    return results + list(m.extra)


def guard_mutation(m: Mutation) -> list[GuardResult]:
    """The one guard entry point: refuse (`GuardsRefusedError`, first reason) before anything is changed."""
    results = mutation_guards(m)
    if any(not r.ok for r in results):
        raise GuardsRefusedError(results, entry_point=m.entry_point)
    return results


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
        extra = (_run("runtime_dsn", lambda: check_dsn_database(runtime_dsn, "runtime simulation DSN")),)
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


def enforce(results: list[GuardResult]) -> None:
    """Refuse when any guard failed."""
    if any(not r.ok for r in results):
        raise GuardsRefusedError(results)


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
