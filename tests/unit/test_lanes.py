"""Runtime lanes: the lanes file is validated (collisions, production targets) and points a manifest."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from torghut_sim.calendar import session_window
from torghut_sim.day_template import LOCAL_TEMPLATE, load_template, render_day_manifest
from torghut_sim.guards import GuardRefusalError
from torghut_sim.lanes import LanesConfigError, RuntimeLane, load_lanes, manifest_on_lane, parse_lanes
from torghut_sim.naming import names_for_day

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "runtime-lanes.example.yaml"


def _lane(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "torghut_service": f"torghut-sim-{name}",
        "ta_configmap": f"ta-{name}",
        "ta_deployment": f"ta-{name}",
        **extra,
    }


def test_the_example_file_loads_as_two_lanes() -> None:
    lanes = load_lanes(EXAMPLE)
    assert [(lane.name, lane.namespace, lane.manage_argocd) for lane in lanes] == [
        ("primary", "torghut", True),
        ("second", "torghut-sim-b", False),
    ]


@pytest.mark.parametrize(
    ("lanes", "fragment"),
    [
        ([_lane("a", "ns1"), _lane("b", "ns1")], "share the namespace ns1"),
        ([_lane("a", "ns1"), _lane("a", "ns2")], "share the name a"),
        (
            [_lane("a", "ns1", manage_argocd=True), _lane("b", "ns2", manage_argocd=True)],
            "all manage Argo CD",
        ),
        ([], "lists no lane"),
        ([_lane("a", "ns1", colour="red")], "lanes.0.colour"),
        ([_lane("A", "ns1")], "lanes.0.name"),
    ],
)
def test_lanes_that_would_collide_are_refused(lanes: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(LanesConfigError) as err:
        parse_lanes({"lanes": lanes}, "lanes.yaml")
    assert err.value.reason == "runtime_lanes_invalid"
    assert fragment in err.value.message


def test_a_lane_on_the_production_service_is_refused() -> None:
    lane = _lane("a", "ns1")
    lane["torghut_service"] = "torghut"
    with pytest.raises(GuardRefusalError) as err:
        parse_lanes({"lanes": [lane]}, "lanes.yaml")
    assert err.value.reason == "production_runtime_service"


def test_an_unreadable_or_malformed_file_names_itself(tmp_path: Path) -> None:
    with pytest.raises(LanesConfigError, match="cannot read the lanes file"):
        load_lanes(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lanes: [unclosed\n")
    with pytest.raises(LanesConfigError, match="not valid YAML"):
        load_lanes(bad)
    bad.write_text(yaml.safe_dump({"runtimes": []}))
    with pytest.raises(LanesConfigError, match="expected a mapping with a `lanes` list"):
        load_lanes(bad)


def test_a_manifest_on_a_lane_targets_that_lane_only() -> None:
    day = date(2026, 3, 6)
    manifest = render_day_manifest(load_template(LOCAL_TEMPLATE), names_for_day(day, 1), session_window(day))
    lane = RuntimeLane.model_validate(_lane("b", "torghut-sim-b", argocd_app_name="torghut-b"))
    moved = manifest_on_lane(manifest, lane)
    assert (moved.runtime.namespace, moved.runtime.torghut_service) == ("torghut-sim-b", "torghut-sim-b")
    assert (moved.runtime.ta_configmap, moved.runtime.ta_deployment) == ("ta-b", "ta-b")
    assert moved.argocd.manage_automation is False
    assert moved.argocd.app_name == "torghut-b"
    # Everything else is the day's manifest as validated; the original is not modified.
    assert moved.window == manifest.window and moved.kafka == manifest.kafka
    assert manifest.runtime.namespace != "torghut-sim-b"
