"""The automation sensor of the derived reports: period reports and the catalog follow the day reports.

Dagster evaluates automation conditions only in a running automation sensor, and the one it makes by
itself starts stopped. This one starts running, so after a backfill or a scheduled day the weekly and
monthly period reports and the DuckDB catalog are rebuilt by the daemon, with no toggle in the UI. It
targets only those assets: they read reports and write files under the output root, nothing else.
"""

from collections.abc import Sequence

import dagster as dg

REPORTS_AUTOMATION_SENSOR = "reports_automation"


def build_reports_automation_sensor(
    derived: Sequence[dg.AssetsDefinition],
) -> dg.AutomationConditionSensorDefinition:
    """The running automation sensor of the `derived` assets (their own conditions say when)."""
    return dg.AutomationConditionSensorDefinition(
        REPORTS_AUTOMATION_SENSOR,
        target=dg.AssetSelection.assets(*derived),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        # Runs rather than backfills: the Backfills page keeps only what users launched.
        emit_backfills=False,
        description="Rebuild the period reports and the DuckDB catalog once the reports they read change.",
    )
