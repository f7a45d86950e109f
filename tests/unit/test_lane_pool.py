"""The lane pool sensor sizes the runtime pool to the lanes; the definitions read the lanes file at load."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from resources import DeploymentSettings
from sensors.lanes import build_lane_pool_sensor, sync_pool_limit
from torghut_sim.definitions import build_definitions
from torghut_sim.lanes import LanesConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "runtime-lanes.example.yaml"


def test_the_pool_is_set_to_one_slot_per_lane_and_left_alone_when_it_matches(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = sync_pool_limit(instance, "torghut_runtime_x", 2)
        assert "limit set from" in first
        assert instance.event_log_storage.get_concurrency_info("torghut_runtime_x").slot_count == 2
        assert "has 2 slot(s)" in sync_pool_limit(instance, "torghut_runtime_x", 2)
        # Someone raised it by hand: the sensor brings it back to the lane count.
        instance.event_log_storage.set_concurrency_slots("torghut_runtime_x", 5)
        sensor = build_lane_pool_sensor("torghut_runtime_x", 2)
        result = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and "from 5 to 2" in (result.skip_message or "")
        assert instance.event_log_storage.get_concurrency_info("torghut_runtime_x").slot_count == 2


def test_definitions_with_a_lanes_file_size_the_pool_to_it(tmp_path: Path) -> None:
    defs = build_definitions(DeploymentSettings(runtime_lanes_file=str(EXAMPLE)))
    sensor = defs.resolve_sensor_def("runtime_lane_pool")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        sensor(dg.build_sensor_context(instance=instance))
        assert instance.event_log_storage.get_concurrency_info("torghut_runtime_default").slot_count == 2


def test_definitions_refuse_a_bad_lanes_file_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "lanes.yaml"
    bad.write_text("lanes:\n  - name: a\n")
    with pytest.raises(LanesConfigError) as err:
        build_definitions(DeploymentSettings(runtime_lanes_file=str(bad)))
    assert err.value.reason == "runtime_lanes_invalid"
