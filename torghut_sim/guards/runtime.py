"""Guards on the runtime a run patches: paper-only env, allowed overrides, stores that are the run's own."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from torghut_sim.guards.names import (
    check_consumer_group,
    check_dsn_database,
    check_simulation_database,
    check_simulation_topic,
)
from torghut_sim.guards.results import GuardRefusalError

PRODUCTION_RUNTIME_SERVICES: frozenset[str] = frozenset({"torghut"})

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
