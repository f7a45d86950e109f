"""The period report `torghut.simulation-period-report.v1`: many trading days' reports in, one view out."""

from __future__ import annotations

from torghut_sim.report.period.api import PeriodResult, build_period_report
from torghut_sim.report.period.layout import period_dir, period_id
from torghut_sim.report.period.model import PERIOD_SCHEMA_VERSION, SimulationPeriodReport

__all__ = [
    "PERIOD_SCHEMA_VERSION",
    "PeriodResult",
    "SimulationPeriodReport",
    "build_period_report",
    "period_dir",
    "period_id",
]
