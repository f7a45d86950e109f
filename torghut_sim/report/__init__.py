"""The report engine `torghut.simulation-report.v1`: a run directory in, JSON/Markdown/CSV/Parquet/SVG out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torghut_sim.report.model import SCHEMA_VERSION, SimulationReport

if TYPE_CHECKING:
    from torghut_sim.report.api import ReportResult, build_report

__all__ = ["SCHEMA_VERSION", "ReportResult", "SimulationReport", "build_report"]


def __getattr__(name: str) -> Any:
    """The builder on first use: it pulls in polars and numpy; reading a report does not."""
    if name in {"ReportResult", "build_report"}:
        from torghut_sim.report import api  # noqa: PLC0415

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
