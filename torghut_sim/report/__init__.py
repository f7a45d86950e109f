"""The report engine `torghut.simulation-report.v1`: a run directory in, JSON/Markdown/CSV/Parquet/PNG out."""

from __future__ import annotations

from torghut_sim.report.api import ReportResult, build_report
from torghut_sim.report.model import SCHEMA_VERSION, SimulationReport

__all__ = ["SCHEMA_VERSION", "ReportResult", "SimulationReport", "build_report"]
