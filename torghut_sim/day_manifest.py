"""The per-day manifest: a template YAML filled with one day's session window and run names.

The template holds everything that does not change between days (connections, runtime, replay,
monitor, Argo CD, reporting); this module fills in the dataset id, the window (session start/end,
buffers, minimum coverage) and the simulation database, and writes `manifest.yaml` in the run dir.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torghut_sim.calendar import NEW_YORK, SessionWindow
from torghut_sim.layout import RunPaths, run_paths
from torghut_sim.manifest import (
    DatasetManifest,
    ManifestError,
    dump_manifest,
    parse_manifest,
    read_mapping,
    with_simulation_database,
)
from torghut_sim.naming import RunNames

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


def render_day_manifest(
    template: Mapping[str, Any],
    names: RunNames,
    window: SessionWindow,
    output_root: str | None = None,
) -> DatasetManifest:
    """The validated manifest of one day: the template with window, ids and databases filled in."""
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
