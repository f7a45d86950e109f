"""Re-execution from failure of a day whose simulation step failed: only the failed step and what follows
it run again, and the day ends simulated (the gate's decision is not repeated, nothing is loaded from it)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest

from assets.manifest import build_manifest_assets
from assets.partitions import trading_day_partitions
from assets.report import build_report_assets
from assets.simulation import build_simulation_assets
from resources import DeploymentSettings, build_resources
from torghut_sim.day_template import LOCAL_TEMPLATE
from torghut_sim.layout import RunPaths
from torghut_sim.lifecycle import SimulationOutcome, SimulationRequest
from unit.report_builders import RunBuilder
from unit.run_clients_fake import FakeEnvRunClients
from unit.test_dagster_assets import FakeLifecycle, _fake_dump

ROOT_ENV = "TORGHUT_SIM_TEST_REEXEC_ROOT"
DAY = "2026-03-06"


class FailingOnce(FakeLifecycle):
    """Raises while a `fail-once` file exists in the root (removing it), then behaves as a finished run."""

    def __call__(self, request: SimulationRequest) -> SimulationOutcome:
        flag = Path(os.environ[ROOT_ENV]) / "fail-once"
        if flag.exists():
            flag.unlink()
            raise RuntimeError("the runtime failed")
        return super().__call__(request)


def day_job() -> dg.JobDefinition:
    """The day's assets as one in-process job over the test's root (rebuilt on every load)."""
    root = Path(os.environ[ROOT_ENV])
    partitions = trading_day_partitions(DeploymentSettings().partitions_start)
    settings = DeploymentSettings(
        template_path=str(LOCAL_TEMPLATE), output_root=str(root / "out"), kubeconfig=str(root / "kube")
    )
    defs = dg.Definitions(
        assets=[
            *build_manifest_assets(partitions),
            *build_simulation_assets(partitions, "torghut_runtime_test", FailingOnce(finished=True)),
            *build_report_assets(partitions),
        ],
        jobs=[dg.define_asset_job("day", selection=dg.AssetSelection.all())],
        resources={**build_resources(settings), "run_clients": FakeEnvRunClients()},
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("day")


def _dumped(run_dir: Path) -> None:
    """The day's dump marker as a dump of 1000 records leaves it (the dump asset is not in this job)."""
    RunBuilder(run_dir).write(coverage=None, replay=False, run_state=False)
    paths = RunPaths(run_dir)
    request: Any = SimpleNamespace(
        dump_path=paths.dump,
        marker_path=paths.dump_marker,
        window_start=datetime(2026, 3, 6, 14, 30, tzinfo=UTC),
        window_end=datetime(2026, 3, 6, 21, tzinfo=UTC),
        session_start=None,
        session_end=None,
    )
    _fake_dump(1.0, 1000)(None, request)


def test_reexecution_from_failure_reruns_the_simulation_and_what_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    _dumped(tmp_path / "out" / "sim_20260306_01")
    (tmp_path / "fail-once").write_text("")
    job = dg.reconstructable(day_job)
    tags = {"dagster/partition": DAY}
    with dg.instance_for_test() as instance:
        first = dg.execute_job(job, instance, tags=tags, raise_on_error=False)
        assert not first.success
        options = dg.ReexecutionOptions.from_failure(first.run_id, instance)
        # The UI's "re-execute from failure" keeps the parent's tags, the partition among them.
        again = dg.execute_job(job, instance, tags=tags, reexecution_options=options, raise_on_error=False)
        assert again.success
        started = {e.step_key for e in again.all_events if e.event_type_value == "STEP_START"}
        assert "simulation_manifest" not in started and "simulate_day.simulation_gate" not in started
        assert "simulate_day.simulate_on_runtime" in started
        status = {
            e.asset_key.to_user_string(): e.materialization.metadata["status"].value
            for e in again.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"
        }
        assert status == {
            "replay_marker": "not_replayed",
            "simulation_outputs": "simulated",
            "simulation_report": "simulated",
        }
