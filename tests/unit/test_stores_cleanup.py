"""Cleanup decisions and guards, without servers."""

from __future__ import annotations

import argparse
from datetime import date, timedelta

import pytest

from torghut_sim.commands.cleanup import locked_run_token
from torghut_sim.stores.cleanup import (
    KIND_CLICKHOUSE,
    KIND_GROUP,
    KIND_POSTGRES,
    KIND_TOPIC,
    CleanupItem,
    CleanupPlan,
    decide,
    execute_cleanup,
    parse_retention,
    token_of_database,
    token_of_topic,
    trading_day_of,
)
from torghut_sim.stores.errors import CleanupRefusedError
from torghut_sim.stores.safety import simulation_group_token

CUTOFF = date(2026, 3, 1)


def test_tokens_come_only_from_simulation_names() -> None:
    assert token_of_database("torghut_sim_sim_20260227_01") == "sim_20260227_01"
    assert token_of_database("torghut") is None
    assert token_of_database("torghut_prod") is None
    assert token_of_topic("torghut.sim.trades.v1.sim_20260227_01") == "sim_20260227_01"
    assert token_of_topic("torghut.sim.ta.bars.1s.v1.sim_20260227_01") == "sim_20260227_01"
    assert token_of_topic("torghut.trades.v1") is None
    assert token_of_topic("torghut.sim.trades.v1") is None
    assert simulation_group_token("torghut-ta-sim-sim_20260227_01") == "sim_20260227_01"
    assert simulation_group_token("torghut-order-feed-sim-sim_20260227_01") == "sim_20260227_01"
    assert simulation_group_token("torghut-ta") is None
    assert simulation_group_token("torghut-ta-sim-") is None
    assert simulation_group_token("torghut-ta-sim-Other.Group") is None


def test_trading_day_of_token() -> None:
    assert trading_day_of("sim_20260227_01") == date(2026, 2, 27)
    assert trading_day_of("abc_sim_20260227_01") == date(2026, 2, 27)
    assert trading_day_of("sim_20261399_01") is None
    assert trading_day_of("scratch") is None


def test_retention() -> None:
    assert parse_retention("14d") == timedelta(days=14)
    assert parse_retention("36h") == timedelta(hours=36)
    with pytest.raises(CleanupRefusedError):
        parse_retention("two weeks")


@pytest.mark.parametrize(
    ("token", "locked", "action"),
    [
        ("sim_20260227_01", None, "drop"),
        ("sim_20260227_01", "sim_20260227_01", "keep"),
        ("sim_20260301_01", None, "keep"),
        ("sim_20260305_01", None, "keep"),
        ("scratch", None, "keep"),
    ],
)
def test_decide(token: str, locked: str | None, action: str) -> None:
    item = decide(KIND_POSTGRES, f"torghut_sim_{token}", "pg", token, CUTOFF, locked)
    assert item.action == action


def _forged(kind: str, name: str, token: str) -> CleanupPlan:
    item = CleanupItem(kind, name, "srv", token, date(2020, 1, 1), "drop", "forged")
    return CleanupPlan(CUTOFF, "sim_20260227_09", (item,))


@pytest.mark.parametrize(
    ("kind", "name", "token"),
    [
        (KIND_POSTGRES, "torghut", "torghut"),
        (KIND_CLICKHOUSE, "default", "default"),
        (KIND_TOPIC, "torghut.trades.v1", "x"),
        (KIND_GROUP, "torghut-ta", "torghut"),
        (KIND_GROUP, "torghut-order-feed-sim-sim_20260227_09", "sim_20260227_09"),
        (KIND_GROUP, "torghut-ta-sim-sim_20200101_01", "sim_20260227_01"),
        (KIND_POSTGRES, "torghut_sim_sim_20260227_09", "sim_20260227_09"),
        (KIND_POSTGRES, "torghut_sim_sim_20200101_01", "sim_20260227_01"),
    ],
)
def test_execute_refuses_what_must_never_be_dropped(kind: str, name: str, token: str) -> None:
    with pytest.raises(CleanupRefusedError) as info:
        execute_cleanup(_forged(kind, name, token), postgres_admin_dsn="postgresql://u@127.0.0.1:1/x")
    assert info.value.reason == "cleanup_refused"


def _cleanup_args(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "kubeconfig": None,
        "runtime_namespace": "torghut",
        "locked_run_token": None,
        "execute": False,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def test_an_execute_that_cannot_see_the_lock_is_refused() -> None:
    with pytest.raises(CleanupRefusedError, match="which run holds the runtime lock"):
        locked_run_token(_cleanup_args(execute=True))


def test_a_dry_run_or_a_named_token_needs_no_cluster() -> None:
    assert locked_run_token(_cleanup_args()) is None
    named = _cleanup_args(execute=True, locked_run_token="sim_20260306_01")
    assert locked_run_token(named) == "sim_20260306_01"
