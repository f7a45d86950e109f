"""Safety guards: every refusal has its reason code and names the offending value."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from torghut_sim.guards import GuardRefusalError, GuardsRefusedError, enforce, run_guards
from torghut_sim.guards.names import (
    check_replay_targets,
    check_run_token,
    check_simulation_database,
    check_simulation_topic,
)
from torghut_sim.guards.runtime import (
    ALLOWED_ENV_OVERRIDES,
    PAPER_ONLY_ENV,
    check_env_overrides,
    check_paper_env,
    check_runtime_env_targets,
    check_runtime_target,
    check_ta_config,
)
from torghut_sim.guards.window import check_window, check_window_coverage
from torghut_sim.manifest import DatasetManifest, WindowSpec, load_manifest, parse_manifest
from torghut_sim.naming import names_for_day
from torghut_sim.run_plan import runtime_env
from torghut_sim.runtime.ta import ta_config_values

MANIFESTS = Path(__file__).resolve().parents[2].parent / "shared" / "upstream-fixtures" / "manifests"


def _window(**fields: Any) -> WindowSpec:
    return WindowSpec.model_validate(fields)


def _refusal(check: Any, *args: Any) -> GuardRefusalError:
    with pytest.raises(GuardRefusalError) as err:
        check(*args)
    return err.value


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("torghut", "production_database"),
        ("postgres", "production_database"),
        ("torghut_prod", "simulation_database_prefix"),
        ("sim_torghut_x", "simulation_database_prefix"),
        ("torghut_sim_Bad-Name", "simulation_database_invalid"),
        ("torghut_sim_" + "x" * 52, "simulation_database_too_long"),
    ],
)
def test_simulation_database_refusals(name: str, reason: str) -> None:
    err = _refusal(check_simulation_database, name)
    assert err.reason == reason
    assert repr(name) in err.message


def test_simulation_database_accepted() -> None:
    check_simulation_database("torghut_sim_sim_20260306_01")
    check_simulation_database("torghut_sim_" + "x" * 51)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("torghut.trades.v1", "production_topic"),
        ("torghut.trade-updates.v1", "production_topic"),
        ("torghut.trades.v1.sim_x", "simulation_topic_prefix"),
        ("sim.torghut.trades.v1", "simulation_topic_prefix"),
    ],
)
def test_simulation_topic_refusals(topic: str, reason: str) -> None:
    err = _refusal(check_simulation_topic, topic)
    assert err.reason == reason
    assert repr(topic) in err.message


def test_a_custom_source_topic_is_refused_as_target() -> None:
    err = _refusal(check_simulation_topic, "torghut.sim.mirror", ["torghut.sim.mirror"])
    assert err.reason == "production_topic"


def test_replay_targets_must_not_be_sources() -> None:
    err = _refusal(
        check_replay_targets, ["torghut.sim.trades.v1.x", "torghut.quotes.v1"], ["torghut.quotes.v1"]
    )
    assert err.reason == "replay_target_is_source"
    assert "torghut.quotes.v1" in err.message
    check_replay_targets(["torghut.sim.trades.v1.x"], ["torghut.trades.v1"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TRADING_MODE", "live"),
        ("TRADING_LIVE_ENABLED", "true"),
        ("TRADING_EXECUTION_ADAPTER", "alpaca"),
        ("TRADING_SIMULATION_ENABLED", "false"),
        ("TRADING_UNIVERSE_SOURCE", "static"),
        ("TRADING_MODE", None),
    ],
)
def test_paper_only_env_refusals(key: str, value: str | None) -> None:
    env = dict(PAPER_ONLY_ENV)
    if value is None:
        del env[key]
    else:
        env[key] = value
    err = _refusal(check_paper_env, env)
    assert err.reason == "not_paper_only"
    assert key in err.message


def test_paper_only_env_accepted() -> None:
    check_paper_env({**PAPER_ONLY_ENV, "TRADING_ENABLED": "true"})


@pytest.mark.parametrize("key", ["TRADING_MODE", "TRADING_LIVE_ENABLED", "DB_DSN", "SOMETHING_ELSE"])
def test_env_overrides_outside_allow_list_are_refused(key: str) -> None:
    err = _refusal(check_env_overrides, {"TRADING_FEATURE_QUALITY_ENABLED": "true", key: "x"})
    assert err.reason == "env_override_not_allowed"
    assert key in err.message


def test_every_allow_listed_override_is_accepted() -> None:
    check_env_overrides(dict.fromkeys(ALLOWED_ENV_OVERRIDES, "1"))


def test_production_runtime_service_is_refused() -> None:
    assert _refusal(check_runtime_target, "torghut").reason == "production_runtime_service"
    check_runtime_target("torghut-sim")


@pytest.mark.parametrize(
    ("fields", "reason", "named"),
    [
        (
            {"start": "2026-03-06T15:00:00Z", "end": "2026-03-06T15:00:00Z"},
            "invalid_window",
            "2026-03-06T15:00",
        ),
        (
            {"start": "2026-03-06T15:00:00Z", "end": "2026-03-06T14:00:00Z"},
            "invalid_window",
            "2026-03-06T14:00",
        ),
        (
            {"profile": "asia", "start": "2026-03-06T14:30:00Z", "end": "2026-03-06T21:00:00Z"},
            "unknown_window_profile",
            "asia",
        ),
        (
            {
                "profile": "us_equities_regular",
                "timezone": "UTC",
                "start": "2026-03-06T14:30:00Z",
                "end": "2026-03-06T21:00:00Z",
            },
            "full_day_timezone",
            "UTC",
        ),
        (
            {
                "profile": "us_equities_regular",
                "start": "2026-03-06T14:30:00Z",
                "end": "2026-03-06T20:30:00Z",
            },
            "full_day_window_mismatch",
            "2026-03-06T20:30",
        ),
        (
            # The EST window on an EDT day.
            {
                "profile": "us_equities_regular",
                "start": "2026-03-09T14:30:00Z",
                "end": "2026-03-09T21:00:00Z",
            },
            "full_day_window_mismatch",
            "2026-03-09T13:30",
        ),
        (
            {
                "profile": "us_equities_regular",
                "start": "2026-03-06T14:30:00Z",
                "end": "2026-03-06T21:00:00Z",
                "min_coverage_minutes": 300,
            },
            "min_coverage_too_low",
            "300",
        ),
        (
            {
                "profile": "us_equities_regular",
                "start": "2026-04-03T13:30:00Z",
                "end": "2026-04-03T20:00:00Z",
            },
            "not_a_trading_day",
            "2026-04-03",
        ),
    ],
)
def test_window_refusals(fields: dict[str, Any], reason: str, named: str) -> None:
    err = _refusal(check_window, _window(**fields))
    assert err.reason == reason
    assert named in err.message


def test_full_day_windows_accepted() -> None:
    check_window(
        _window(profile="us_equities_regular", start="2026-03-06T14:30:00Z", end="2026-03-06T21:00:00Z")
    )
    check_window(
        _window(profile="us_equities_regular", start="2026-11-27T14:30:00Z", end="2026-11-27T18:00:00Z")
    )
    # A short window without a profile gets no full-day check.
    check_window(_window(start="2026-03-06T14:30:00Z", end="2026-03-06T15:00:00Z"))


def test_holiday_full_day_window_is_allowed_under_skip_empty() -> None:
    holiday = _window(profile="us_equities_regular", start="2026-04-03T13:30:00Z", end="2026-04-03T20:00:00Z")
    check_window(holiday, allow_non_trading_day=True)


def test_window_shorter_than_coverage_is_refused() -> None:
    window = _window(start="2026-03-06T14:30:00Z", end="2026-03-06T15:00:00Z", min_coverage_minutes=45)
    err = _refusal(check_window_coverage, window)
    assert err.reason == "window_shorter_than_coverage"
    assert "45" in err.message


def _guard_inputs(path: Path) -> tuple[DatasetManifest, Any, dict[str, str], str]:
    manifest = load_manifest(path)
    names = names_for_day(manifest.window.trading_day or date(2026, 3, 6))
    pg_db = manifest.postgres.simulation_database(names.simulation_database)
    return manifest, names, runtime_env(manifest, names, "postgresql://u@h/" + pg_db), pg_db


@pytest.mark.parametrize("path", sorted(MANIFESTS.glob("*.yaml")), ids=lambda p: p.name)
def test_fixture_manifests_pass_every_guard(path: Path) -> None:
    results = run_guards(*_guard_inputs(path))
    assert [r for r in results if not r.ok] == []
    assert {r.name for r in results} >= {
        "window",
        "clickhouse_database",
        "postgres_database",
        "paper_only_env",
    }
    enforce(results)


def test_run_guards_collects_every_failure_and_enforce_refuses() -> None:
    manifest, names, env, _ = _guard_inputs(MANIFESTS / "full-day-2026-03-06.yaml")
    data = manifest.to_data()
    data["clickhouse"]["simulation_database"] = "torghut"
    data["torghut_env_overrides"] = {"TRADING_MODE": "live"}
    bad = parse_manifest(data)
    results = run_guards(bad, names, {**env, "TRADING_LIVE_ENABLED": "true"}, "torghut")
    failed = {r.name: r.reason for r in results if not r.ok}
    assert failed == {
        "clickhouse_database": "production_database",
        "postgres_database": "production_database",
        "env_overrides": "env_override_not_allowed",
        "paper_only_env": "not_paper_only",
    }
    with pytest.raises(GuardsRefusedError) as err:
        enforce(results)
    assert err.value.reason == "production_database"
    assert "\n" not in str(err.value)


def test_runtime_env_cannot_be_weakened_by_overrides() -> None:
    manifest, names, _, _ = _guard_inputs(MANIFESTS / "full-day-2026-03-06.yaml")
    data = manifest.to_data()
    data["torghut_env_overrides"] = {"TRADING_MODE": "live", "TRADING_LIVE_ENABLED": "true"}
    env = runtime_env(parse_manifest(data), names, "postgresql://u@h/d")
    check_paper_env(env)
    assert env["TRADING_SIGNAL_TABLE"] == "torghut_sim_2026_03_06_full_day.ta_signals"
    assert env["TRADING_ORDER_FEED_TOPIC"] == names.topic("order_updates")


@pytest.mark.parametrize(
    ("env", "reason", "named"),
    [
        ({"DB_DSN": "postgresql://u:pw@h:5432/torghut"}, "production_database", "DB_DSN"),
        ({"DB_DSN": "postgresql://u@h:5432/"}, "invalid_dsn", "DB_DSN"),
        ({"TRADING_SIGNAL_TABLE": "torghut.ta_signals"}, "production_database", "TRADING_SIGNAL_TABLE"),
        ({"TRADING_PRICE_TABLE": "ta_microbars"}, "simulation_table_invalid", "TRADING_PRICE_TABLE"),
        ({"TRADING_ORDER_FEED_TOPIC": "torghut.trade-updates.v1"}, "production_topic", "trade-updates"),
        ({"TRADING_ORDER_FEED_GROUP_ID": "torghut-order-feed"}, "production_consumer_group", "order-feed"),
    ],
)
def test_runtime_env_targets_refusals(env: dict[str, str], reason: str, named: str) -> None:
    err = _refusal(check_runtime_env_targets, env)
    assert err.reason == reason
    assert named in err.message
    assert "pw" not in err.message


def test_runtime_env_and_ta_config_of_a_run_pass() -> None:
    names = names_for_day(date(2026, 3, 6))
    env = runtime_env(
        load_manifest(MANIFESTS / "full-day-2026-03-06.yaml"), names, "postgresql://u@h/torghut_sim_x"
    )
    check_runtime_env_targets(env)
    check_ta_config(ta_config_values(names.run_token, "http://ch:8123", names.simulation_database))


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("TA_TRADES_TOPIC", "torghut.trades.v1", "production_topic"),
        ("TA_GROUP_ID", "torghut-ta", "production_consumer_group"),
        ("TA_CLICKHOUSE_URL", "jdbc:clickhouse://ch:8123/torghut", "production_database"),
    ],
)
def test_ta_config_refusals(key: str, value: str, reason: str) -> None:
    names = names_for_day(date(2026, 3, 6))
    values = {**ta_config_values(names.run_token, "http://ch:8123", names.simulation_database), key: value}
    assert _refusal(check_ta_config, values).reason == reason


@pytest.mark.parametrize(
    ("token", "run_id", "reason"),
    [
        ("Sim-1", None, "invalid_run_token"),
        ("", None, "invalid_run_token"),
        ("sim_20260306_02", "sim-20260306-01", "run_token_mismatch"),
        ("x", "---", "empty_run_token"),
    ],
)
def test_run_token_refusals(token: str, run_id: str | None, reason: str) -> None:
    assert _refusal(check_run_token, token, run_id).reason == reason
    check_run_token("sim_20260306_01", "sim-20260306-01")
