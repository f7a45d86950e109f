"""`simulation_catalog`: the DuckDB file an analyst opens to query every simulated day at once."""

from typing import Any

import dagster as dg

from assets.manifest import GROUP
from resources import SimulationConfigResource

# Bump when the views change, so automation rebuilds the file with the new definitions.
CATALOG_CODE_VERSION = "2"
# Views follow new days by glob; a rebuild is only needed when missing, after a new report (a table may
# have appeared for the first time) or when the view definitions change.
_MISSING_OR_CHANGED_NOW: dg.AutomationCondition[Any] = (
    dg.AutomationCondition.missing() | dg.AutomationCondition.code_version_changed()
)
_MISSING_OR_CHANGED = _MISSING_OR_CHANGED_NOW.since_last_handled()
# A report written after the catalog was last requested. The reset is the request alone, and the trigger
# carries the reports' write times, so a period report that the same tick requested beside the catalog
# (it runs apart: another partitioning) and that finished after it still brings one more rebuild, with its
# views. Dagster's `any_deps_updated().since_last_handled()` loses that tie to the catalog's own update.
_NEWER_REPORT: dg.AutomationCondition[Any] = dg.AutomationCondition.any_deps_match(
    dg.AutomationCondition.newly_updated()
).since(dg.AutomationCondition.newly_requested())
# Not while a report it reads is still being made: a backfill rebuilds the catalog once, at its end, rather
# than once per finished day (each rebuild is a run, competing with the simulations for the cores).
CATALOG_AUTOMATION = (
    (_MISSING_OR_CHANGED | _NEWER_REPORT)
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
)


@dg.asset(
    group_name=GROUP,
    deps=["simulation_report", "weekly_period_report", "monthly_period_report"],
    kinds={"duckdb", "parquet"},
    code_version=CATALOG_CODE_VERSION,
    automation_condition=CATALOG_AUTOMATION,
    description=(
        "DuckDB views over every day's and period's report Parquet (runs, verdicts, P&L, latency, LLM "
        "reviews, periods) and the day-run registry `day_runs`: every day a pipeline touched, with its "
        "outcome and evidence."
    ),
)
def simulation_catalog(
    context: dg.AssetExecutionContext, simulation_config: SimulationConfigResource
) -> dg.MaterializeResult[None]:
    """Rebuild the catalog file under the output root."""
    from torghut_sim.report.catalog import build_catalog  # noqa: PLC0415 - DuckDB only when built

    build = build_catalog(simulation_config.output_dir)
    if build.missing:
        missing = ", ".join(build.missing)
        context.log.info(f"no report has written {missing} yet; those views come with a later rebuild")
    return dg.MaterializeResult(
        metadata={
            "catalog": dg.MetadataValue.path(str(build.path)),
            "views": dg.MetadataValue.json(build.views),
            "missing_views": ", ".join(build.missing) or "none",
            "runs": build.runs,
            "day_runs": build.day_runs,
            "days_not_done": build.not_done,
            "usage": dg.MetadataValue.md(
                f"```\nduckdb {build.path}\nSELECT * FROM verdicts;\n"
                "SELECT trading_day, run_id, outcome, reason FROM day_runs WHERE NOT done;\n```\n"
            ),
        }
    )
