"""One trading day's simulation on the runtime: the request (`request.py`), the order of its phases
(`run.py`), the pipeline's own phases (`steps.py`) and the values it derives (`values.py`)."""

from torghut_sim.lifecycle.request import SimulationOutcome, SimulationRequest
from torghut_sim.lifecycle.run import run_simulation_day
from torghut_sim.lifecycle.values import cursor_seed

__all__ = ["SimulationOutcome", "SimulationRequest", "cursor_seed", "run_simulation_day"]
