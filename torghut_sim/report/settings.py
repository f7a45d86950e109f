"""The few manifest and run-state fields the report needs, read defensively into one typed object."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.report.errors import ReportInputInvalidError

DEFAULT_STRICT_COVERAGE_RATIO = 0.95


@dataclass(frozen=True)
class ReportSettings:
    """Thresholds, cost assumptions and identity of the run being reported."""

    run_id: str
    run_token: str
    dataset_id: str | None
    trading_day: str | None
    window_start: datetime | None
    window_end: datetime | None
    strict_coverage_ratio: float = DEFAULT_STRICT_COVERAGE_RATIO
    min_coverage_minutes: int | None = None
    min_trade_decisions: int = 1
    min_executions: int = 1
    min_execution_tca_metrics: int = 1
    min_execution_order_events: int = 0
    commission_bps: Decimal = Decimal(0)
    per_trade_fee: Decimal = Decimal(0)
    llm_price_per_1k_tokens: Decimal = Decimal(0)


def run_token_of(run_id: str) -> str:
    """The contract's run token: lower case, each run of non-alphanumerics replaced by `_`, trimmed."""
    return re.sub(r"[^a-z0-9]+", "_", run_id.lower()).strip("_")


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when the file is absent; anything else is an invalid input."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportInputInvalidError(f"{path.name} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportInputInvalidError(f"{path.name} is not a JSON object")
    return data


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The run's manifest as a plain mapping, or None when the run directory has none."""
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReportInputInvalidError(f"{path.name} is not readable YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportInputInvalidError(f"{path.name} is not a mapping")
    return data


def _section(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    value = manifest.get(name)
    return value if isinstance(value, dict) else {}


def _timestamp(value: object, field: str) -> datetime | None:
    # YAML turns unquoted timestamps into datetimes; quoted ones stay ISO strings.
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ReportInputInvalidError(f"manifest {field} is not an ISO timestamp: {value!r}") from exc
    else:
        raise ReportInputInvalidError(f"manifest {field} is not a timestamp: {value!r}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _decimal(value: object, field: str, default: Decimal) -> Decimal:
    if value is None:
        return default
    if isinstance(value, bool):
        raise ReportInputInvalidError(f"manifest {field} is not a number: {value!r}")
    try:
        # Floats go through their shortest repr so 0.5 stays 0.5, not its binary expansion.
        result = Decimal(str(value)) if isinstance(value, (int, float, str)) else None
    except InvalidOperation:
        result = None
    if result is None or not result.is_finite():
        raise ReportInputInvalidError(f"manifest {field} is not a number: {value!r}")
    return result


def _int(value: object, field: str, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ReportInputInvalidError(f"manifest {field} is not an integer: {value!r}")
    try:
        return int(value)
    except ValueError as exc:
        raise ReportInputInvalidError(f"manifest {field} is not an integer: {value!r}") from exc


def _ratio(value: object) -> float:
    if value is None:
        return DEFAULT_STRICT_COVERAGE_RATIO
    try:
        return float(str(value))
    except ValueError as exc:
        raise ReportInputInvalidError(f"manifest window.strict_coverage_ratio is invalid: {value!r}") from exc


def build_settings(
    run_dir: Path, manifest: dict[str, Any] | None, run_state: dict[str, Any] | None
) -> ReportSettings:
    """Settings from the manifest and run state; the run id falls back to the directory name."""
    manifest = manifest or {}
    state = run_state or {}
    window = _section(manifest, "window")
    monitor = _section(manifest, "monitor")
    reporting = _section(manifest, "reporting")
    run_id = str(state.get("run_id") or run_dir.name)
    run_token = str(state.get("run_token") or run_token_of(run_id))
    dataset_id = state.get("dataset_id") or manifest.get("dataset_id")
    trading_day = window.get("trading_day")
    if isinstance(trading_day, date):
        trading_day = trading_day.isoformat()
    return ReportSettings(
        run_id=run_id,
        run_token=run_token,
        dataset_id=str(dataset_id) if dataset_id is not None else None,
        trading_day=str(trading_day) if trading_day is not None else None,
        window_start=_timestamp(window.get("start"), "window.start"),
        window_end=_timestamp(window.get("end"), "window.end"),
        strict_coverage_ratio=_ratio(window.get("strict_coverage_ratio")),
        min_coverage_minutes=_int(window.get("min_coverage_minutes"), "window.min_coverage_minutes", None),
        min_trade_decisions=_int(monitor.get("min_trade_decisions"), "monitor.min_trade_decisions", 1) or 0,
        min_executions=_int(monitor.get("min_executions"), "monitor.min_executions", 1) or 0,
        min_execution_tca_metrics=(
            _int(monitor.get("min_execution_tca_metrics"), "monitor.min_execution_tca_metrics", 1) or 0
        ),
        min_execution_order_events=(
            _int(monitor.get("min_execution_order_events"), "monitor.min_execution_order_events", 0) or 0
        ),
        commission_bps=_decimal(reporting.get("commission_bps"), "reporting.commission_bps", Decimal(0)),
        per_trade_fee=_decimal(reporting.get("per_trade_fee"), "reporting.per_trade_fee", Decimal(0)),
        llm_price_per_1k_tokens=_decimal(
            reporting.get("llm_price_per_1k_tokens"), "reporting.llm_price_per_1k_tokens", Decimal(0)
        ),
    )
