"""The code location loads and validates: assets with kinds and their checks, jobs, schedule, sensors."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from assets.dump import build_dump_assets
from assets.manifest import build_manifest_assets
from assets.partitions import trading_day_partitions
from assets.report import build_report_assets
from assets.simulation import build_simulation_assets
from resources import DeploymentSettings
from torghut_sim.definitions import DAY_JOB, build_definitions

CHECKS = {
    "simulation_manifest": {"full_day_window", "isolation_guards"},
    "source_dump": {"session_coverage", "exact_window"},
    "simulation_outputs": {"no_contamination", "runtime_restored", "simulated_under_current_manifest"},
    "simulation_report": {"report_schema", "verdict"},
}
BLOCKING = {
    "full_day_window",
    "isolation_guards",
    "session_coverage",
    "exact_window",
    "no_contamination",
    "runtime_restored",
}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(DeploymentSettings.from_env({}))


@pytest.fixture(scope="module")
def day_defs() -> list[Any]:
    partitions = trading_day_partitions(DeploymentSettings().partitions_start)
    return [
        *build_manifest_assets(partitions),
        *build_dump_assets(partitions),
        *build_simulation_assets(partitions, "torghut_runtime_default"),
        *build_report_assets(partitions),
    ]


def test_definitions_validate_without_any_environment(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert keys == {
        *CHECKS,
        "replay_marker",
        "simulation_catalog",
        "weekly_period_report",
        "monthly_period_report",
    }


def test_module_definitions_load() -> None:
    from torghut_sim.definitions import defs as module_defs

    dg.Definitions.validate_loadable(module_defs)


def test_every_asset_has_kinds(defs: dg.Definitions) -> None:
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        assert graph.get(key).kinds, key.to_user_string()


def test_every_asset_has_its_checks(defs: dg.Definitions) -> None:
    found: dict[str, set[str]] = {}
    for check in defs.get_repository_def().asset_graph.asset_check_keys:
        found.setdefault(check.asset_key.to_user_string(), set()).add(check.name)
    assert found == CHECKS


def test_gating_checks_block_and_report_checks_do_not(day_defs: list[Any]) -> None:
    specs = [s for d in day_defs if isinstance(d, dg.AssetChecksDefinition) for s in d.check_specs]
    assert {s.name for s in specs if s.blocking} == BLOCKING
    assert {s.name for s in specs if not s.blocking} == {
        "report_schema",
        "verdict",
        "simulated_under_current_manifest",
    }


def test_day_assets_are_partitioned_by_trading_day(defs: dg.Definitions) -> None:
    graph = defs.get_repository_def().asset_graph
    for name in CHECKS:
        assert graph.get(dg.AssetKey(name)).partitions_def is not None, name
    assert graph.get(dg.AssetKey("simulation_catalog")).partitions_def is None


def test_simulation_runs_in_its_runtime_lane_pool() -> None:
    defs = build_definitions(DeploymentSettings.from_env({"TORGHUT_SIM_RUNTIME_LANE": "blue"}))
    repo = defs.get_repository_def()
    day = repo.get_job(DAY_JOB).graph.node_named("simulate_day").definition
    assert isinstance(day, dg.GraphDefinition)
    # Only the step on the runtime holds a slot: the gate and the record step (empty or done days) do not.
    pools = {node.name: node.definition.pool for node in day.nodes}
    assert pools == {
        "simulation_gate": None,
        "simulate_on_runtime": "torghut_runtime_blue",
        "record_simulation": None,
    }
    cleanup = repo.get_job("restore_simulation_runtime").graph.node_named("restore_runtime_from_state")
    assert cleanup.definition.pool == "torghut_runtime_blue"
    dump = repo.get_job(DAY_JOB).graph.node_named("source_dump")
    assert dump.definition.pool is None


def test_runs_execute_their_steps_in_one_process(defs: dg.Definitions) -> None:
    repo = defs.get_repository_def()
    for job in (repo.get_job(DAY_JOB), repo.get_implicit_global_asset_job_def()):
        assert job.executor_def.name == "in_process", job.name


def test_day_job_never_retries_runs(defs: dg.Definitions) -> None:
    job = defs.get_repository_def().get_job(DAY_JOB)
    assert job.tags["dagster/max_retries"] == "0"


def test_schedule_and_sensors_are_registered(defs: dg.Definitions) -> None:
    repo = defs.get_repository_def()
    assert [s.name for s in repo.schedule_defs] == ["nightly_simulation"]
    assert {s.name for s in repo.sensor_defs} >= {
        "simulation_cleanup_on_failure",
        "simulation_cleanup_on_cancel",
        "runtime_drift",
    }


def test_resources_hold_no_secret_values(defs: dg.Definitions) -> None:
    resources = defs.resources or {}
    assert set(resources) == {
        "simulation_config",
        "kafka",
        "clickhouse",
        "postgres",
        "kubernetes",
        "argocd",
        "run_clients",
    }
    for resource in resources.values():
        # `kubernetes` is bound as a partial resource (Argo CD's nests it): its config is its `data`.
        fields = resource.model_dump() if hasattr(resource, "model_dump") else dict(resource.data)
        assert not any(k.endswith("password") for k in fields), fields
