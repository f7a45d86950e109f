"""The deployment's settings as resource config: a variable set at load is named (`dg.EnvVar`), not copied."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap, ResourceConfigEnvVarSnap

from resources import RunClientsResource, SimulationConfigResource
from resources.deployment import VARIABLES, DeploymentSettings, build_resources
from torghut_sim.definitions import build_definitions

SET_AT_LOAD = {
    "TORGHUT_SIM_OUTPUT_ROOT": "/srv/simulations",
    "TORGHUT_SIM_SEQUENCE": "2",
    "TORGHUT_SIM_LOCK_LEASE_SECONDS": "240",
    "TORGHUT_SIM_KUBECONFIG": "/etc/torghut/kubeconfig",
    "TORGHUT_SIM_SECRETS_DIR": "/var/run/secrets/torghut-sim",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No deployment variable of the machine running the tests leaks in."""
    for names in VARIABLES.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _configured(defs: dg.Definitions) -> dict[str, dict[str, Any]]:
    """What the UI shows of each resource's config: a value, or the name of the variable it comes from."""
    with warnings.catch_warnings():
        # Dagster's own snapshot code reads a deprecated schedule property; none of ours is involved.
        warnings.simplefilter("ignore", DeprecationWarning)
        snap = RepositorySnap.from_def(defs.get_repository_def())
    return {r.name: dict(r.configured_values) for r in snap.resources or []}


def test_variables_set_at_load_are_named_not_copied(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in SET_AT_LOAD.items():
        clean_env.setenv(name, value)
    shown = _configured(build_definitions(DeploymentSettings.from_env()))
    assert shown["simulation_config"]["output_root"] == ResourceConfigEnvVarSnap(
        name="TORGHUT_SIM_OUTPUT_ROOT"
    )
    assert shown["simulation_config"]["sequence"] == ResourceConfigEnvVarSnap(name="TORGHUT_SIM_SEQUENCE")
    assert shown["simulation_config"]["lock_lease_seconds"] == ResourceConfigEnvVarSnap(
        name="TORGHUT_SIM_LOCK_LEASE_SECONDS"
    )
    assert shown["kubernetes"]["kubeconfig"] == ResourceConfigEnvVarSnap(name="TORGHUT_SIM_KUBECONFIG")
    assert shown["run_clients"]["secrets_dir"] == ResourceConfigEnvVarSnap(name="TORGHUT_SIM_SECRETS_DIR")
    # Unset variables keep the working defaults, as values.
    assert shown["simulation_config"]["runtime_lane"] == '"default"'
    assert shown["kubernetes"]["namespace"] == '"torghut"'
    text = repr(shown)
    assert not any(value in text for value in SET_AT_LOAD.values())


def test_kubeconfig_falls_back_to_the_standard_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KUBECONFIG", "/home/ops/.kube/config")
    settings = DeploymentSettings.from_env()
    assert settings.kubeconfig == "/home/ops/.kube/config"
    assert settings.variables == {"kubeconfig": "KUBECONFIG"}


def test_with_no_variable_set_every_field_is_its_default(clean_env: pytest.MonkeyPatch) -> None:
    settings = DeploymentSettings.from_env()
    assert settings == DeploymentSettings() and settings.variables == {}
    shown = _configured(build_definitions(settings))
    named = [(r, f) for r, fields in shown.items() for f, v in fields.items() if not isinstance(v, str)]
    assert named == []


def test_an_explicit_mapping_gives_values_a_run_can_use_without_it() -> None:
    settings = DeploymentSettings.from_env({"TORGHUT_SIM_SEQUENCE": "3"})
    assert settings.sequence == 3 and settings.variables == {}
    resource = build_resources(settings)["simulation_config"]
    assert isinstance(resource, SimulationConfigResource) and resource.sequence == 3


def test_a_run_resolves_the_variables_from_its_own_environment(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("TORGHUT_SIM_OUTPUT_ROOT", str(tmp_path / "at-load"))
    clean_env.setenv("TORGHUT_SIM_SEQUENCE", "2")
    resources = build_resources(DeploymentSettings.from_env())
    seen: dict[str, Any] = {}

    @dg.asset
    def probe(simulation_config: SimulationConfigResource, run_clients: RunClientsResource) -> None:
        seen.update(
            output_root=simulation_config.output_root,
            sequence=simulation_config.sequence,
            secrets_dir=run_clients.secrets_dir,
        )

    # The run's environment is not the one the definitions loaded in (a pod's, say): its values count.
    clean_env.setenv("TORGHUT_SIM_OUTPUT_ROOT", str(tmp_path / "in-the-run"))
    clean_env.setenv("TORGHUT_SIM_SEQUENCE", "5")
    assert dg.materialize([probe], resources=resources).success
    assert seen == {"output_root": str(tmp_path / "in-the-run"), "sequence": 5, "secrets_dir": None}
