"""The period report `torghut.simulation-period-report.v1`: many trading days' reports in, one view out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torghut_sim.report.period.layout import period_dir, period_id
from torghut_sim.report.period.model import PERIOD_SCHEMA_VERSION, SimulationPeriodReport

if TYPE_CHECKING:
    from torghut_sim.report.period.api import PeriodResult, build_period_report

__all__ = [
    "PERIOD_SCHEMA_VERSION",
    "PeriodResult",
    "SimulationPeriodReport",
    "build_period_report",
    "period_dir",
    "period_id",
]


def __getattr__(name: str) -> Any:
    """The builder on first use: it pulls in polars and numpy, which loading the code location
    (every Dagster run's start) must not pay for."""
    if name in {"PeriodResult", "build_period_report"}:
        from torghut_sim.report.period import api  # noqa: PLC0415

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
