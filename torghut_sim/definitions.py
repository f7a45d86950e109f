"""The one Dagster `Definitions` of the torghut-sim code location: assets, checks, jobs, schedule, sensors.

Wiring only: everything is built from `DeploymentSettings` (read from the environment with defaults, so
`dg check defs` needs no variables); the behaviour lives in the domain package and the thin `assets/`,
`resources/` and `sensors/` modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from assets import DAY_ASSETS
from assets.catalog import simulation_catalog
from assets.dump import build_dump_assets
from assets.manifest import build_manifest_assets
from assets.partitions import trading_day_partitions
from assets.period import build_period_assets
from assets.report import build_report_assets
from assets.simulation import SimulationDay, build_simulation_assets, run_simulation_day
from resources import DeploymentSettings, build_resources, runtime_pool
from sensors.automation import build_reports_automation_sensor
from sensors.cancel import build_cancel_sensor
from sensors.cleanup import build_cleanup_job, build_failure_sensor
from sensors.drift import runtime_drift_sensor
from sensors.lanes import build_lane_pool_sensor
from sensors.schedule import build_nightly_schedule
from sensors.stale_lock import build_stale_lock_sensor
from torghut_sim.lanes import load_lanes

DAY_JOB = "simulate_trading_day"


def build_definitions(
    settings: DeploymentSettings, lifecycle: SimulationDay = run_simulation_day
) -> dg.Definitions:
    """The code location for one deployment; `lifecycle` is the seam tests replace."""
    partitions = trading_day_partitions(settings.partitions_start)
    pool = runtime_pool(settings.runtime_lane)
    # A bad lanes file fails the code location's load with its reason, before any run can use it.
    lanes = load_lanes(Path(settings.runtime_lanes_file).expanduser()) if settings.runtime_lanes_file else []
    day: list[Any] = [
        *build_manifest_assets(partitions),
        *build_dump_assets(partitions),
        *build_simulation_assets(partitions, pool, lifecycle),
        *build_report_assets(partitions),
    ]
    day_job = dg.define_asset_job(
        DAY_JOB,
        selection=dg.AssetSelection.assets(*DAY_ASSETS),
        # A retried run would race the failure sensor's teardown of the runtime the first one patched.
        tags={"dagster/max_retries": "0"},
        description="One trading day: manifest, dump, simulation on the runtime, report.",
    )
    cleanup_job = build_cleanup_job(pool)
    periods = build_period_assets(settings.partitions_start)
    return dg.Definitions(
        assets=[
            *(a for a in day if not isinstance(a, dg.AssetChecksDefinition)),
            *periods,
            simulation_catalog,
        ],
        asset_checks=[c for c in day if isinstance(c, dg.AssetChecksDefinition)],
        jobs=[day_job, cleanup_job],
        schedules=[build_nightly_schedule(DAY_JOB, settings.partitions_start)],
        sensors=[
            build_failure_sensor(cleanup_job),
            build_stale_lock_sensor(cleanup_job),
            build_cancel_sensor(cleanup_job),
            runtime_drift_sensor,
            build_lane_pool_sensor(pool, max(len(lanes), 1)),
            build_reports_automation_sensor([*periods, simulation_catalog]),
        ],
        resources=build_resources(settings),
        # A day's steps run one after another anyway; in one process the code location loads once per
        # run instead of once per step. Pools still apply: the simulation step claims its slot in process.
        executor=dg.in_process_executor,
    )


defs = build_definitions(DeploymentSettings.from_env())
