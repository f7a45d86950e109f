"""`weekly_period_report` and `monthly_period_report`: the period report of each week and month of days.

A week (Monday to Sunday) or a calendar month in New York time is one partition; each depends on the day
reports inside it, so a backfill that reports a day rebuilds the periods that hold it. Days of the period
that have no report (empty, failed, never run) are listed as such in the report, never left out.
"""

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg

from assets.figures import figures
from assets.manifest import GROUP
from resources import SimulationConfigResource
from torghut_sim.calendar import NEW_YORK
from torghut_sim.report.period import PERIOD_SCHEMA_VERSION

if TYPE_CHECKING:
    from torghut_sim.report.period import PeriodResult

# A period's days are in: rebuild when any of its day reports changed, once no day of it is still running.
# A period that has a day report but was never built counts too: days reported before the automation
# sensor first ran (the demo's, or a deployment's from before the sensor) still get their week and month,
# while a period with no day report at all is never built for nothing.
_CHANGED_OR_OWED: dg.AutomationCondition[Any] = dg.AutomationCondition.any_deps_updated() | (
    dg.AutomationCondition.missing()
    & dg.AutomationCondition.any_deps_match(~dg.AutomationCondition.missing())
)
PERIOD_AUTOMATION: dg.AutomationCondition[Any] = (
    _CHANGED_OR_OWED.since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
)
_DAY_REPORTS = [dg.AssetDep("simulation_report", partition_mapping=dg.TimeWindowPartitionMapping())]


def period_partitions(start: date) -> tuple[dg.WeeklyPartitionsDefinition, dg.MonthlyPartitionsDefinition]:
    """Weeks from the Monday on or before `start` and months from its first day, in New York time."""
    monday = start - timedelta(days=start.weekday())
    weekly = dg.WeeklyPartitionsDefinition(
        start_date=monday.isoformat(), timezone=str(NEW_YORK), day_offset=1, fmt="%Y-%m-%d"
    )
    monthly = dg.MonthlyPartitionsDefinition(
        start_date=start.replace(day=1).isoformat(), timezone=str(NEW_YORK), fmt="%Y-%m-%d"
    )
    return weekly, monthly


def period_metadata(result: "PeriodResult") -> dict[str, Any]:
    """Days by status, verdicts, P&L and drawdown, and the files, of a built period report."""
    report = result.report
    totals, drawdown = report.totals, report.drawdown
    unreported = [f"{d.trading_day} {d.status}" for d in report.days if d.status != "reported"]
    return {
        "period_id": report.period.period_id,
        "schema_version": PERIOD_SCHEMA_VERSION,
        "trading_days": totals.days_listed,
        "days_reported": totals.days_reported,
        "days_without_report": dg.MetadataValue.json(unreported),
        "verdicts": dg.MetadataValue.json(totals.verdict_counts),
        # Floats so the UI plots them over periods; the exact decimals are in the report files.
        **figures({"net_pnl": totals.net, "max_drawdown": drawdown.max_drawdown}),
        "max_drawdown_days": f"{drawdown.peak_day or 'start'} → {drawdown.trough_day or '—'}",
        "report_json": dg.MetadataValue.path(str(result.json_path)),
        "report_markdown": dg.MetadataValue.path(str(result.markdown_path)),
    }


def _build(context: dg.AssetExecutionContext, config: SimulationConfigResource) -> dg.MaterializeResult[None]:
    """The period report of the partition's days (its window's end is exclusive)."""
    window = context.partition_time_window
    first = window.start.astimezone(NEW_YORK).date()
    last = window.end.astimezone(NEW_YORK).date() - timedelta(days=1)
    # Imported here: polars would slow every code location load.
    from torghut_sim.report.period import build_period_report  # noqa: PLC0415

    result = build_period_report(config.output_dir, first, last, sequence=config.sequence)
    unreported = result.report.totals.days_listed - result.report.totals.days_reported
    if unreported:
        context.log.warning(f"{result.report.period.period_id}: {unreported} day(s) without a report")
    return dg.MaterializeResult(metadata=period_metadata(result))


def _period_asset(name: str, partitions: dg.PartitionsDefinition[str], span: str) -> dg.AssetsDefinition:
    """One period report asset, partitioned by `partitions`; `span` ("week", "month") names a partition."""

    @dg.asset(
        name=name,
        partitions_def=partitions,
        group_name=GROUP,
        deps=_DAY_REPORTS,
        kinds={"python", "parquet"},
        automation_condition=PERIOD_AUTOMATION,
        description=f"The {span}'s period report: equity across days, verdicts, P&L by day and symbol.",
    )
    def period_report(
        context: dg.AssetExecutionContext, simulation_config: SimulationConfigResource
    ) -> dg.MaterializeResult[None]:
        """Build the period report of one partition's trading days."""
        return _build(context, simulation_config)

    return period_report


def build_period_assets(start: date) -> list[dg.AssetsDefinition]:
    """The weekly and the monthly period report assets over the day reports from `start`."""
    weekly, monthly = period_partitions(start)
    return [
        _period_asset("weekly_period_report", weekly, "week"),
        _period_asset("monthly_period_report", monthly, "month"),
    ]
