"""The derived reports' automation: a running sensor, and what a new day report makes it request."""

from __future__ import annotations

import dagster as dg
import pytest

from resources import DeploymentSettings
from sensors.automation import REPORTS_AUTOMATION_SENSOR
from torghut_sim.definitions import build_definitions

# Dagster's own condition tester selects with a beta parameter; the warning is about its code, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning")

DAY = "2026-03-06"  # a Friday: the week of Monday 2026-03-02, the month of 2026-03-01


def _definitions() -> dg.Definitions:
    return build_definitions(DeploymentSettings.from_env({}))


def test_every_automated_asset_is_evaluated_by_a_sensor_that_starts_running() -> None:
    defs = _definitions()
    graph = defs.resolve_asset_graph()
    automated = {key for key in graph.get_all_asset_keys() if graph.get(key).automation_condition is not None}
    assert automated == {
        dg.AssetKey("weekly_period_report"),
        dg.AssetKey("monthly_period_report"),
        dg.AssetKey("simulation_catalog"),
    }
    sensor = defs.resolve_sensor_def(REPORTS_AUTOMATION_SENSOR)
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.asset_selection is not None
    assert sensor.asset_selection.resolve(graph) == automated
    # Dagster's own fallback sensor (stopped) only appears for automated assets no sensor targets.
    names = {s.name for s in defs.get_repository_def().sensor_defs}
    assert "default_automation_condition_sensor" not in names


def test_a_new_day_report_requests_its_week_its_month_and_the_catalog() -> None:
    defs = _definitions()
    with dg.DagsterInstance.ephemeral() as instance:
        # The first evaluation starts the cursor; the next builds the missing catalog, and only it.
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert first.total_requested == 0
        assert second.total_requested == second.get_num_requested(dg.AssetKey("simulation_catalog")) == 1
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="simulation_catalog"))
        idle = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert idle.total_requested == 0

        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="simulation_report", partition=DAY)
        )
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=idle.cursor)
        assert after.get_requested_partitions(dg.AssetKey("weekly_period_report")) == {"2026-03-02"}
        assert after.get_requested_partitions(dg.AssetKey("monthly_period_report")) == {"2026-03-01"}
        assert after.get_num_requested(dg.AssetKey("simulation_catalog")) == 1
        assert after.total_requested == 3

        # Handled: without another day report nothing is requested again.
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        assert quiet.total_requested == 0


def test_a_day_reported_before_the_sensor_first_ran_still_gets_its_week_and_month() -> None:
    defs = _definitions()
    with dg.DagsterInstance.ephemeral() as instance:
        # As after the demo: the day is reported by `dg launch`, and the daemon starts later.
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="simulation_report", partition=DAY)
        )
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert first.total_requested == 0
        assert second.get_requested_partitions(dg.AssetKey("weekly_period_report")) == {"2026-03-02"}
        assert second.get_requested_partitions(dg.AssetKey("monthly_period_report")) == {"2026-03-01"}
        # Every other week and month has no day report: none of them is built.
        assert second.total_requested == 3


def test_a_period_written_after_the_catalog_brings_one_more_catalog_rebuild() -> None:
    defs = _definitions()
    week, month = dg.AssetKey("weekly_period_report"), dg.AssetKey("monthly_period_report")
    with dg.DagsterInstance.ephemeral() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="simulation_catalog"))
        idle = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="simulation_report", partition=DAY)
        )
        # One tick requests the week, the month and the catalog; they run as three runs.
        requested = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=idle.cursor)
        assert requested.total_requested == 3
        # The catalog's run ends first, then the period reports are written.
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="simulation_catalog"))
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=week, partition="2026-03-02"))
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=month, partition="2026-03-01"))
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=requested.cursor)
        # The catalog is built once more, now with the periods' views; the periods are not rebuilt.
        assert again.total_requested == again.get_num_requested(dg.AssetKey("simulation_catalog")) == 1
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="simulation_catalog"))
        settled = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=again.cursor)
        assert settled.total_requested == 0
