"""The simulation settings a deployment hands the domain: day template, output root, naming and buffers."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from torghut_sim.calendar import SessionWindow, partition_day, session_window
from torghut_sim.day_template import load_template
from torghut_sim.lane_claim import LaneRequest
from torghut_sim.lanes import RuntimeLane, load_lanes
from torghut_sim.layout import RunPaths, run_paths
from torghut_sim.naming import RunNames, names_for_day
from torghut_sim.runtime.controller import ControlSettings
from torghut_sim.runtime.lock import DEFAULT_LEASE_SECONDS


@dataclass(frozen=True)
class DayRun:
    """One trading day's run: its names and its run directory."""

    day: date
    names: RunNames
    paths: RunPaths


class SimulationConfigResource(dg.ConfigurableResource["SimulationConfigResource"]):
    """Where the day template is, where run directories go, how each day's run is named and windowed."""

    template_path: str
    output_root: str
    sequence: int = 1
    pre_buffer_minutes: int = 0
    post_buffer_minutes: int = 0
    # The runtime a simulation holds; its Dagster pool `torghut_runtime_<lane>` serializes runs on it.
    runtime_lane: str = "default"
    # A YAML file of several runtime lanes (see config/runtime-lanes.example.yaml) sharing the pool; None
    # simulates on the one runtime the day template names.
    runtime_lanes_file: str | None = None
    # How long a simulation waits for a lane when every lane is held by runs outside this pool.
    lane_wait_seconds: float = 3600.0
    # The runtime's production Postgres database the contamination check watches; None derives it from
    # the runtime's own DB_DSN before the patch, else the contract's `torghut` (it must exist).
    production_postgres_database: str | None = None
    # How long a simulation's process may go without renewing the run lock's heartbeat before the
    # stale-lock sensor counts it as dead and restores its runtime.
    lock_lease_seconds: int = DEFAULT_LEASE_SECONDS

    def control(self) -> ControlSettings:
        """Runtime-control settings of a simulation: the lock lease and a heartbeat well inside it."""
        return ControlSettings(
            lease_seconds=self.lock_lease_seconds,
            heartbeat_seconds=min(15.0, self.lock_lease_seconds / 4),
        )

    @property
    def pool(self) -> str:
        """The concurrency pool of this runtime lane."""
        return runtime_pool(self.runtime_lane)

    def lanes(self) -> list[RuntimeLane] | None:
        """The configured runtime lanes, None when the deployment simulates on the template's runtime."""
        if not self.runtime_lanes_file:
            return None
        return load_lanes(Path(self.runtime_lanes_file).expanduser())

    def lane_request(self, run: DayRun, owner: str) -> LaneRequest:
        """A day's claim on one of this deployment's runtime lanes (the template's runtime without lanes)."""
        return LaneRequest(
            run.paths,
            run.names,
            run.day,
            owner,
            lanes=self.lanes(),
            default_lane=self.runtime_lane,
            wait_seconds=self.lane_wait_seconds,
        )

    @property
    def output_dir(self) -> Path:
        """The output root as an absolute path (run directories and the reports catalog live here)."""
        return Path(self.output_root).expanduser().resolve()

    def day_run(self, day: date) -> DayRun:
        """Names and run directory of the configured run of a trading day."""
        names = names_for_day(day, self.sequence)
        return DayRun(day, names, run_paths(self.output_dir, names.run_token))

    def partition_run(self, partition_key: str) -> DayRun:
        """The configured run of the trading day a partition key names."""
        return self.day_run(partition_day(partition_key))

    def window(self, day: date) -> SessionWindow:
        """The session window of a trading day with the configured dump buffers."""
        return session_window(day, self.pre_buffer_minutes, self.post_buffer_minutes)

    def template(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """The day template with each section's keys replaced by the deployment's connection overrides."""
        data = load_template(self.template_path)
        for section, values in (overrides or {}).items():
            if values:
                data[section] = {**dict(data.get(section) or {}), **dict(values)}
        return data


def runtime_pool(lane: str) -> str:
    """`torghut_runtime_<lane>`: the pool every step that holds or restores a runtime lane runs in."""
    return f"torghut_runtime_{lane}"
