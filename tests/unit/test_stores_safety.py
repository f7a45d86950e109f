"""Name guards and DSN redaction of the simulation stores."""

from __future__ import annotations

import pytest

from torghut_sim.stores.errors import UnsafeNameError
from torghut_sim.stores.safety import (
    require_simulation_database,
    require_simulation_topic,
)


@pytest.mark.parametrize("name", ["torghut_sim_sim_20260227_01", "torghut_sim_x"])
def test_simulation_databases_pass(name: str) -> None:
    assert require_simulation_database(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "torghut",
        "postgres",
        "system",
        "torghut_sim_",
        "torghut_simx",
        "sim_20260227",
        "torghut_sim_A",
        "torghut_sim_a;drop",
        "torghut_sim_" + "a" * 60,
    ],
)
def test_other_databases_are_refused(name: str) -> None:
    with pytest.raises(UnsafeNameError) as info:
        require_simulation_database(name)
    assert info.value.reason == "unsafe_simulation_name"


def test_an_injected_production_name_is_refused() -> None:
    with pytest.raises(UnsafeNameError):
        require_simulation_database("torghut_sim_prod", ["torghut_sim_prod"])


def test_topics() -> None:
    assert require_simulation_topic("torghut.sim.trades.v1.sim_20260227_01")
    for bad in ("torghut.trades.v1", "torghut.simx.trades", "other.sim.x"):
        with pytest.raises(UnsafeNameError):
            require_simulation_topic(bad)
