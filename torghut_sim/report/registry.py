"""The day-run registry: one row per run directory any pipeline touched, with its outcome and evidence.

Built from what each run directory holds (manifest, plan, dump marker, run-state.json,
restore-required.json, monitor.json, the report), never from logs, so "which days are not done, and why"
is one query over the catalog, including days that failed, were empty or left the runtime patched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.layout import RunPaths
from torghut_sim.report.inputs import file_sha256
from torghut_sim.report.writer import JSON_NAME
from torghut_sim.run_evidence import read_json
from torghut_sim.stores.cleanup import trading_day_of

# Outcomes, worst first when several apply; `done` says the pipeline finished the day (whatever verdict).
OUTCOMES: tuple[str, ...] = (
    "manual_cleanup_required",
    "restore_required",
    "running",
    "failed",
    "inputs_incomplete",
    "not_reported",
    "dumped",
    "planned",
    "empty_day",
    "FAIL",
    "WARN",
    "PASS",
)
DONE_OUTCOMES: frozenset[str] = frozenset({"empty_day", "FAIL", "WARN", "PASS"})
# run-state.json statuses of an attempt that ended without finishing the day.
FAILED_STATUSES: frozenset[str] = frozenset({"failed", "interrupted", "torn_down"})
# `applied`: the CLI left the runtime patched on purpose; the day is still in progress.
RUNNING_STATUSES: frozenset[str] = frozenset({"running", "tearing_down", "applied"})


@dataclass(frozen=True)
class DayRun:
    """One run directory's registry row."""

    run_token: str
    run_id: str | None
    trading_day: date | None
    dataset_id: str | None
    outcome: str
    done: bool
    reason: str
    run_status: str | None
    verdict: str | None
    verdict_reasons: str | None
    dump_status: str | None
    dump_records: int | None
    dump_sha256: str | None
    dump_payload_sha256: str | None
    report_sha256: str | None
    restore_required: bool
    run_dir: str
    manifest_path: str | None
    dump_marker_path: str | None
    run_state_path: str | None
    restore_required_path: str | None
    report_path: str | None
    last_change_at: datetime | None

    def as_row(self) -> dict[str, Any]:
        """The row as the catalog stores it."""
        return asdict(self)


def _yaml(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _present(path: Path) -> str | None:
    return str(path) if path.is_file() else None


def _last_change(paths: list[Path]) -> datetime | None:
    times = [p.stat().st_mtime for p in paths if p.is_file()]
    return datetime.fromtimestamp(max(times), UTC) if times else None


def touched(root: Path) -> bool:
    """True when a pipeline left any evidence in this directory."""
    paths = RunPaths(root)
    return any(p.is_file() for p in (paths.manifest, paths.plan, paths.dump_marker, paths.run_state))


def _outcome(
    run_status: str | None,
    restore_file: bool,
    dump_status: str | None,
    verdict: str | None,
    report_newer: bool,
    inputs_complete: bool | None,
) -> tuple[str, str]:
    """(outcome, why) by the precedence of OUTCOMES: what still needs a person comes first."""
    if run_status == "manual_cleanup_required":
        return "manual_cleanup_required", "automatic cleanup gave up: run `torghut-sim teardown --run-dir`"
    if restore_file or run_status == "restore_required":
        return "restore_required", "a restore left differences: see restore-required.json"
    if run_status in RUNNING_STATUSES:
        return "running", f"run-state.json says {run_status}"
    if run_status in FAILED_STATUSES and not report_newer:
        return "failed", f"the last attempt ended {run_status} without a report"
    if dump_status == "empty_day":
        return "empty_day", "no source records in the window"
    if verdict is not None:
        if inputs_complete is False:
            return "inputs_incomplete", "the monitor ended before every stage consumed the window"
        return verdict, f"report verdict {verdict}"
    if run_status == "succeeded":
        return "not_reported", "simulated, but no report was built"
    if dump_status is not None:
        return "dumped", "dumped, not simulated yet"
    return "planned", "planned, not dumped yet"


def read_day_run(root: Path) -> DayRun:
    """The registry row of one run directory."""
    paths = RunPaths(root)
    manifest = _yaml(paths.manifest) or {}
    plan = read_json(paths.plan) or {}
    marker = read_json(paths.dump_marker) or {}
    state = read_json(paths.run_state) or {}
    monitor = read_json(paths.monitor) or {}
    report_file = paths.report_dir / JSON_NAME
    report = read_json(report_file) or {}
    verdict_section = report.get("verdict") or {}
    verdict = verdict_section.get("status") if isinstance(verdict_section, dict) else None
    reasons = [str(r.get("code")) for r in verdict_section.get("reasons") or [] if isinstance(r, dict)]
    run_status = str(state["status"]) if state.get("status") is not None else None
    report_newer = report_file.is_file() and (
        not paths.run_state.is_file() or report_file.stat().st_mtime >= paths.run_state.stat().st_mtime
    )
    outcome, why = _outcome(
        run_status,
        paths.restore_required.is_file(),
        str(marker["status"]) if marker.get("status") is not None else None,
        str(verdict) if verdict is not None else None,
        report_newer,
        monitor.get("complete") if isinstance(monitor.get("complete"), bool) else None,
    )
    run_id = state.get("run_id") or (report.get("run_metadata") or {}).get("run_id") or plan.get("run_id")
    evidence = [paths.manifest, paths.plan, paths.dump_marker, paths.run_state, paths.restore_required]
    return DayRun(
        run_token=root.name,
        run_id=str(run_id) if run_id else None,
        trading_day=trading_day_of(root.name),
        dataset_id=str(manifest["dataset_id"]) if manifest.get("dataset_id") else None,
        outcome=outcome,
        done=outcome in DONE_OUTCOMES,
        reason=why,
        run_status=run_status,
        verdict=str(verdict) if verdict is not None else None,
        verdict_reasons=",".join(reasons) if verdict is not None else None,
        dump_status=str(marker["status"]) if marker.get("status") is not None else None,
        dump_records=int(marker["records"]) if isinstance(marker.get("records"), int) else None,
        dump_sha256=str(marker["sha256"]) if marker.get("sha256") else None,
        dump_payload_sha256=str(marker["payload_sha256"]) if marker.get("payload_sha256") else None,
        report_sha256=file_sha256(report_file) if report_file.is_file() else None,
        restore_required=paths.restore_required.is_file(),
        run_dir=str(root),
        manifest_path=_present(paths.manifest),
        dump_marker_path=_present(paths.dump_marker),
        run_state_path=_present(paths.run_state),
        restore_required_path=_present(paths.restore_required),
        report_path=_present(report_file),
        last_change_at=_last_change([*evidence, report_file]),
    )


def day_runs(output_root: Path) -> list[DayRun]:
    """Every run directory under an output root that a pipeline touched, by trading day then token."""
    if not output_root.is_dir():
        return []
    rows = [read_day_run(d) for d in sorted(output_root.iterdir()) if d.is_dir() and touched(d)]
    return sorted(rows, key=lambda r: (r.trading_day or date.min, r.run_token))
