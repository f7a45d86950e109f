"""Safety guards that refuse a run before any side effect (CONTRACTS §1, §7).

Each check raises a `GuardRefusalError` with a stable reason code and a message naming the offending value;
`run_guards` runs them all and returns structured results for the plan, `enforce` refuses on any failure.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from torghut_sim.calendar import NEW_YORK, CalendarError, nominal_session_window
from torghut_sim.errors import TorghutSimError
from torghut_sim.manifest import FULL_DAY_PROFILE, DatasetManifest, WindowSpec
from torghut_sim.naming import SIMULATION_DATABASE_PREFIX, RunNames
from torghut_sim.topics import DUMPED_ROLES, PRODUCTION_TOPICS, SIMULATION_TOPIC_PREFIX

# Names the production side uses; a simulation must never write to them.
PRODUCTION_DATABASES: frozenset[str] = frozenset(
    {"torghut", "postgres", "default", "system", "template0", "template1"}
)
PRODUCTION_RUNTIME_SERVICES: frozenset[str] = frozenset({"torghut"})
KNOWN_WINDOW_PROFILES: frozenset[str] = frozenset({FULL_DAY_PROFILE})
# Postgres silently truncates longer identifiers, which could merge two runs' databases.
MAX_DATABASE_NAME = 63
_DATABASE_NAME = re.compile(r"^[a-z0-9_]+$")

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

    def __init__(self, results: list[GuardResult]) -> None:
        self.results = results
        failed = [r for r in results if not r.ok]
        super().__init__("; ".join(r.message for r in failed), reason=failed[0].reason if failed else None)


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


def _run(name: str, check: Callable[[], None]) -> GuardResult:
    """Run one check and turn its refusal into a result."""
    try:
        check()
    except GuardRefusalError as exc:
        return GuardResult(name, False, exc.reason, exc.message)
    return GuardResult(name, True, None, "ok")


def run_guards(
    manifest: DatasetManifest,
    names: RunNames,
    runtime_env: Mapping[str, str],
    postgres_database: str,
    allow_non_trading_day: bool = False,
) -> list[GuardResult]:
    """Every guard of a run, in a stable order; nothing is raised."""
    clickhouse_db = manifest.clickhouse.simulation_database or names.simulation_database
    sources = [r.source for r in DUMPED_ROLES]
    targets = [names.topic(r.role) for r in DUMPED_ROLES]
    results = [
        _run("window", lambda: check_window(manifest.window, allow_non_trading_day)),
        _run("window_coverage", lambda: check_window_coverage(manifest.window)),
        _run("clickhouse_database", lambda: check_simulation_database(clickhouse_db)),
        _run("postgres_database", lambda: check_simulation_database(postgres_database)),
    ]
    for role, topic in names.simulation_topics:
        results.append(_run(f"topic:{role}", functools.partial(check_simulation_topic, topic)))
    results += [
        _run("replay_targets", lambda: check_replay_targets(targets, sources)),
        _run("env_overrides", lambda: check_env_overrides(manifest.torghut_env_overrides)),
        _run("paper_only_env", lambda: check_paper_env(runtime_env)),
        _run("runtime_service", lambda: check_runtime_target(manifest.runtime.torghut_service)),
    ]
    return results


def enforce(results: list[GuardResult]) -> None:
    """Refuse when any guard failed."""
    if any(not r.ok for r in results):
        raise GuardsRefusedError(results)
