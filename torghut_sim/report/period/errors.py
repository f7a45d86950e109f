"""Errors of the period report: a range or output root it cannot be built from."""

from __future__ import annotations

from torghut_sim.report.errors import ReportError


class PeriodError(ReportError):
    """The period report could not be built; the reason code says why."""

    reason = "period_report_failed"
