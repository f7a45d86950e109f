"""A reused outcome is compared with the day's manifest: which sections changed since it was simulated."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.calendar import session_window
from torghut_sim.day_template import LOCAL_TEMPLATE, load_template, render_day_manifest
from torghut_sim.layout import RunPaths
from torghut_sim.manifest import parse_manifest
from torghut_sim.manifest.changes import manifest_changes, record_simulated_manifest
from torghut_sim.naming import names_for_day

DAY = date(2026, 3, 6)


def _template() -> dict[str, Any]:
    """The local template rendered for the day, as plain data."""
    manifest = render_day_manifest(load_template(LOCAL_TEMPLATE), names_for_day(DAY), session_window(DAY))
    return manifest.to_data()


def _run(tmp_path: Path, simulated: dict[str, Any], current: dict[str, Any]) -> RunPaths:
    paths = RunPaths(tmp_path / "run")
    paths.root.mkdir(parents=True, exist_ok=True)
    record_simulated_manifest(paths, parse_manifest(simulated))
    paths.manifest.write_text(yaml.safe_dump(current))
    return paths


def test_the_same_manifest_has_no_changes(tmp_path: Path) -> None:
    assert manifest_changes(_run(tmp_path, _template(), _template())) == []


def test_only_sections_that_change_the_runtime_behaviour_count(tmp_path: Path) -> None:
    current = _template()
    current["torghut_env_overrides"]["TRADING_FEATURE_MAX_STALENESS_MS"] = "60000"
    current["replay"]["pace_mode"] = "event_time"
    current["candidate_id"] = "intraday_tsmom_v2@local"
    # Where the servers are, which lane ran it and the report's costs do not change the outcome.
    current["kafka"]["bootstrap_servers"] = "127.0.0.1:19092"
    current["runtime"]["torghut_service"] = "torghut-sim-2"
    current["argocd"]["manage_automation"] = False
    current["reporting"]["commission_bps"] = "1.5"
    changes = manifest_changes(_run(tmp_path, _template(), current))
    assert changes == ["candidate_id", "replay", "torghut_env_overrides"]


def test_a_section_present_on_one_side_only_counts(tmp_path: Path) -> None:
    current = _template()
    del current["torghut_env_overrides"]
    assert manifest_changes(_run(tmp_path, _template(), current)) == ["torghut_env_overrides"]


def test_an_outcome_without_its_manifest_is_unknown(tmp_path: Path) -> None:
    paths = _run(tmp_path, _template(), _template())
    paths.simulated_manifest.unlink()
    assert manifest_changes(paths) is None
    paths.simulated_manifest.write_text("window: [not, a, section]\n")
    assert manifest_changes(paths) is None
