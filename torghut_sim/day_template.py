"""The per-day manifest: a template YAML filled with one day's session window and run names.

The template holds everything that does not change between days (connections, runtime, replay,
monitor, Argo CD, reporting); this module fills in the dataset id, the window (session start/end,
buffers, minimum coverage) and the simulation database, and writes `manifest.yaml` in the run dir.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from torghut_sim.calendar import NEW_YORK, SessionWindow
from torghut_sim.layout import RunPaths, run_paths
from torghut_sim.manifest import DatasetManifest, ManifestError, dump_manifest, parse_manifest
from torghut_sim.manifest.files import read_mapping
from torghut_sim.manifest.stores import with_simulation_database
from torghut_sim.naming import RunNames
from torghut_sim.secrets import DsnError, dsn_database


class TemplateValueNotHonouredError(ManifestError):
    """The template sets a value the day's run would replace: refused rather than silently changed."""

    reason = "template_value_not_honoured"


# Repository default templates (present in a source checkout).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DEFAULT_TEMPLATE = CONFIG_DIR / "trading-day-template.yaml"
LOCAL_TEMPLATE = CONFIG_DIR / "local-trading-day-template.yaml"


def load_template(path: Path | str) -> dict[str, Any]:
    """The raw mapping of a day template (validated only once filled in)."""
    p = Path(path)
    data = read_mapping(p)
    if not isinstance(data, Mapping):
        raise ManifestError(f"template {p}: must be a mapping", reason="invalid_template")
    return dict(data)


def _utc_iso(value: Any) -> str:
    """An aware datetime as `YYYY-MM-DDTHH:MM:SSZ`."""
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _instant(value: Any) -> datetime | None:
    """A template instant (YAML datetime or ISO text) in UTC; None when it is not one."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return None


def _same(template_value: Any, day_value: Any) -> bool:
    """Whether a template value means the value the day sets (text, number, date or instant)."""
    if isinstance(day_value, datetime):
        return _instant(template_value) == day_value
    if isinstance(day_value, date):
        return str(template_value) == day_value.isoformat()
    if isinstance(day_value, int) and not isinstance(template_value, bool):
        try:
            return int(template_value) == day_value
        except (TypeError, ValueError):
            return False
    return bool(template_value == day_value)


# Where each day value comes from, so a refusal says what to change instead of the template key.
_SET_BY: dict[str, str] = {
    "window.start": "the NYSE session of the day",
    "window.end": "the NYSE session of the day",
    "window.trading_day": "the planned day",
    "window.timezone": "the exchange (America/New_York)",
    "window.min_coverage_minutes": "the session length of the day",
    "window.pre_buffer_minutes": "--pre-buffer-minutes (or the deployment's pre_buffer_minutes)",
    "window.post_buffer_minutes": "--post-buffer-minutes (or the deployment's post_buffer_minutes)",
    "dataset_id": "the day (torghut-trades-<YYYYMMDD>)",
    "dataset_snapshot_ref": "the day (torghut-trades-<YYYYMMDD>)",
    "clickhouse.simulation_database": "the run (torghut_sim_<run_token>)",
    "postgres.simulation_dsn": "the run (database torghut_sim_<run_token>)",
    "postgres.runtime_simulation_dsn": "the run (database torghut_sim_<run_token>)",
}


def not_honoured(template: Mapping[str, Any], names: RunNames, window: SessionWindow) -> list[str]:
    """Template values a day's run would replace with something else, one description each."""
    day_values: dict[str, Any] = {
        "dataset_id": names.dataset_id,
        "dataset_snapshot_ref": names.dataset_id,
        "window.trading_day": window.trading_day,
        "window.timezone": str(NEW_YORK),
        "window.start": window.session_start,
        "window.end": window.session_end,
        "window.min_coverage_minutes": window.session_minutes,
        "window.pre_buffer_minutes": window.pre_buffer_minutes,
        "window.post_buffer_minutes": window.post_buffer_minutes,
        "clickhouse.simulation_database": names.simulation_database,
    }
    found: list[str] = []
    for dotted, day_value in day_values.items():
        section, _, key = dotted.rpartition(".")
        holder = template.get(section) if section else template
        if not isinstance(holder, Mapping) or key not in holder or holder[key] is None:
            continue
        if not _same(holder[key], day_value):
            shown = day_value.isoformat() if isinstance(day_value, date | datetime) else day_value
            found.append(f"{dotted}={holder[key]!s} (the day uses {shown}, set by {_SET_BY[dotted]})")
    postgres = template.get("postgres")
    if isinstance(postgres, Mapping):
        for key in ("simulation_dsn", "runtime_simulation_dsn"):
            dsn = postgres.get(key)
            if not isinstance(dsn, str):
                continue
            try:
                database = dsn_database(dsn)
            except DsnError:
                continue  # the manifest model reports a malformed DSN
            if database != names.simulation_database:
                found.append(
                    f"postgres.{key} names database {database} (the day uses {names.simulation_database}, "
                    f"set by {_SET_BY['postgres.' + key]}; use simulation_dsn_template with {{db}})"
                )
    return found


def render_day_manifest(
    template: Mapping[str, Any],
    names: RunNames,
    window: SessionWindow,
    output_root: str | None = None,
) -> DatasetManifest:
    """The validated manifest of one day: the template with window, ids and databases filled in.

    A template value the day would replace with a different one is refused, never silently changed.
    """
    replaced = not_honoured(template, names, window)
    if replaced:
        raise TemplateValueNotHonouredError(
            f"template for {window.trading_day.isoformat()} sets values a day's run does not use: "
            + "; ".join(replaced)
        )
    data: dict[str, Any] = copy.deepcopy(dict(template))
    data["dataset_id"] = names.dataset_id
    data["dataset_snapshot_ref"] = names.dataset_id
    section = dict(data.get("window") or {})
    section.update(
        {
            "trading_day": window.trading_day.isoformat(),
            "timezone": str(NEW_YORK),
            "start": _utc_iso(window.session_start),
            "end": _utc_iso(window.session_end),
            # Early closes shorten the session, so the minimum follows the day, not the template.
            "min_coverage_minutes": window.session_minutes,
            "pre_buffer_minutes": window.pre_buffer_minutes,
            "post_buffer_minutes": window.post_buffer_minutes,
        }
    )
    data["window"] = section
    clickhouse = dict(data.get("clickhouse") or {})
    clickhouse["simulation_database"] = names.simulation_database
    data["clickhouse"] = clickhouse
    if output_root is not None:
        runtime = dict(data.get("runtime") or {})
        runtime["output_root"] = output_root
        data["runtime"] = runtime
    manifest = parse_manifest(data, source=f"template for {window.trading_day.isoformat()}")
    postgres = with_simulation_database(manifest.postgres, names.simulation_database)
    return manifest.model_copy(update={"postgres": postgres})


def day_run_paths(manifest: DatasetManifest, names: RunNames) -> RunPaths:
    """The run directory of a day under the manifest's output root."""
    return run_paths(Path(manifest.runtime.output_root), names.run_token)


def write_day_manifest(manifest: DatasetManifest, names: RunNames) -> Path:
    """Write `manifest.yaml` into the run directory; returns its path."""
    return dump_manifest(manifest, day_run_paths(manifest, names).manifest)
