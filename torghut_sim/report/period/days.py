"""The days of a range: each trading day's run directory, what became of its run, and its report's figures.

A day's report is read as a view of the fields the period needs (unknown sections such as a newer
`runtime_metrics` are kept as raw JSON, never refused), so reports written by any v1 engine combine.
A day that failed after an earlier report was written is listed as failed: that report is stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from torghut_sim.calendar import trading_days
from torghut_sim.layout import RunPaths, run_paths
from torghut_sim.naming import names_for_day
from torghut_sim.report.model import SCHEMA_VERSION, Verdict
from torghut_sim.report.period.model import DayStatus
from torghut_sim.report.writer import JSON_NAME

# run-state.json statuses of a run that ended without its evidence, and of one still going.
FAILED_RUN_STATUSES = frozenset({"failed", "interrupted"})
ACTIVE_RUN_STATUSES = frozenset({"running", "tearing_down"})


class _View(BaseModel):
    """A read-only view of part of a report: the fields named here, anything else ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ReasonView(_View):
    """A verdict reason."""

    code: str
    severity: Literal["info", "warn", "fail"]
    message: str


class VerdictView(_View):
    """The day's verdict."""

    status: Verdict
    reasons: list[ReasonView]


class MetadataView(_View):
    """Who the report is of."""

    run_id: str
    trading_day: str | None


class FunnelView(_View):
    """The day's funnel counts the period sums."""

    decisions: int
    executions: int


class SymbolView(_View):
    """One symbol's P&L of the day."""

    symbol: str
    fills: int
    turnover: Decimal
    realized: Decimal
    unrealized: Decimal
    gross: Decimal
    costs: Decimal
    net: Decimal
    closing_fills: int
    wins: int
    losses: int


class PnlView(_View):
    """The day's P&L totals and its symbols."""

    fills: int
    realized: Decimal
    unrealized: Decimal
    gross: Decimal
    costs: Decimal
    net: Decimal
    turnover: Decimal
    closing_fills: int
    wins: int
    losses: int
    max_drawdown: Decimal
    by_symbol: list[SymbolView]


class DayReportView(_View):
    """What the period reads of a `torghut.simulation-report.v1` file."""

    schema_version: Literal["torghut.simulation-report.v1"]
    run_metadata: MetadataView
    verdict: VerdictView
    funnel: FunnelView
    pnl: PnlView
    runtime_metrics: dict[str, Any] | None = None


@dataclass(frozen=True)
class DaySource:
    """One trading day of the range: its run, what became of it, and its report when it counts."""

    day: date
    run_id: str
    run_token: str
    status: DayStatus
    detail: str | None
    report: DayReportView | None
    report_path: Path | None
    report_sha256: str | None


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, None when absent or unreadable (the caller says what that means)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _failure_detail(run_state: dict[str, Any]) -> str:
    """`<phase>: <reason>` of the phase that failed, from the run's transitions."""
    transitions = [t for t in run_state.get("transitions") or [] if isinstance(t, dict)]
    phase: str | None = None
    for item in reversed(transitions):
        if item.get("phase") == "run":
            details = item.get("details") or {}
            phase = details.get("failed_phase") if isinstance(details, dict) else None
            break
    for item in reversed(transitions):
        if item.get("phase") == phase and item.get("status") in {"failed", "interrupted"}:
            details = item.get("details") or {}
            reason = details.get("reason") if isinstance(details, dict) else None
            return f"{phase}: {reason or item.get('status')}"
    return f"{phase or 'run'}: {run_state.get('status')}"


def _run_state_status(paths: RunPaths) -> tuple[DayStatus | None, str | None]:
    """A failed, unrestored or active run, from the restore marker and run-state.json."""
    if paths.restore_required.exists():
        return "restore_required", "restore-required.json present: the runtime was not restored"
    run_state = _read_json(paths.run_state) or {}
    status = run_state.get("status")
    if status == "restore_required":
        return "restore_required", _failure_detail(run_state)
    if status in FAILED_RUN_STATUSES:
        return "failed", _failure_detail(run_state)
    if status in ACTIVE_RUN_STATUSES:
        return "in_progress", f"run-state status {status}"
    return None, None


def read_day(output_root: Path, day: date, sequence: int = 1) -> DaySource:
    """What became of one trading day's run under an output root."""
    names = names_for_day(day, sequence)
    paths = run_paths(output_root, names.run_token)

    def source(status: DayStatus, detail: str | None, **found: Any) -> DaySource:
        return DaySource(day, names.run_id, names.run_token, status, detail, **found)

    no_report: dict[str, Any] = {"report": None, "report_path": None, "report_sha256": None}
    if not paths.root.is_dir():
        return source("not_run", "no run directory", **no_report)
    marker = _read_json(paths.dump_marker)
    if marker is not None and marker.get("status") == "empty_day":
        return source("empty_day", "no source records in the session", **no_report)
    run_status, detail = _run_state_status(paths)
    report_path = paths.report_dir / JSON_NAME
    if run_status is not None:
        # A run still going (or failed) after an earlier report: that report no longer stands for the day.
        return source(run_status, detail, **no_report)
    if not report_path.is_file():
        return source("no_report", "no simulation-report.json", **no_report)
    try:
        raw = report_path.read_bytes()
        report = DayReportView.model_validate_json(raw)
    except OSError as exc:
        return source("report_invalid", f"unreadable: {exc}", **no_report)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "report"
        return source("report_invalid", f"not {SCHEMA_VERSION}: {where}: {first['msg']}", **no_report)
    digest = hashlib.sha256(raw).hexdigest()
    return source("reported", None, report=report, report_path=report_path, report_sha256=digest)


def read_days(output_root: Path, from_date: date, to_date: date, sequence: int = 1) -> list[DaySource]:
    """Every trading day of the inclusive range, in order (weekends and holidays are not listed)."""
    return [read_day(output_root, day, sequence) for day in trading_days(from_date, to_date)]
