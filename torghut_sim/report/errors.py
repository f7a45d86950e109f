"""Errors of the report engine: a run directory or input the report cannot be built from."""

from __future__ import annotations

from torghut_sim.errors import TorghutSimError


class ReportError(TorghutSimError):
    """The report could not be built; the reason code says which input or step failed."""

    reason = "report_failed"


class RunDirMissingError(ReportError):
    """The run directory to report on does not exist."""

    reason = "report_run_dir_missing"


class ReportInputInvalidError(ReportError):
    """An input file exists but cannot be read as its contract says (schema, JSON, YAML)."""

    reason = "report_input_invalid"
