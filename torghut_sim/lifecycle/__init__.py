"""One trading day's simulation on the runtime: its request, its run, its own phases, its derived values."""

from torghut_sim.lifecycle.request import SimulationOutcome, SimulationRequest
from torghut_sim.lifecycle.run import run_simulation_day
from torghut_sim.lifecycle.values import cursor_seed

__all__ = ["SimulationOutcome", "SimulationRequest", "cursor_seed", "run_simulation_day"]
