"""`simulation_manifest`: a trading day rendered from the template, guarded and planned, with its checks."""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from assets.day_checks import day_check
from resources import (
    ClickHouseResource,
    DayRun,
    KafkaResource,
    PostgresResource,
    SimulationConfigResource,
)
from torghut_sim.run_evidence import guard_results
from torghut_sim.run_plan import plan_day

GROUP = "torghut_simulation"
# Guards that judge the window; every other guard is about isolation from production.
WINDOW_GUARDS: frozenset[str] = frozenset({"window", "window_coverage"})


def guard_check(run: DayRun, window: bool) -> dg.AssetCheckResult:
    """Pass when every recorded guard of the kind passed; name the refusals otherwise."""
    guards = [g for g in guard_results(run.paths) if (g.get("name") in WINDOW_GUARDS) == window]
    refused = [g for g in guards if not g.get("ok")]
    return dg.AssetCheckResult(
        passed=bool(guards) and not refused,
        metadata={
            # Measured beside its threshold: a check passes with at least one guard and none refused.
            "guards_checked": dg.MetadataValue.int(len(guards)),
            "guards_refused": dg.MetadataValue.int(len(refused)),
            "guards_refused_allowed": dg.MetadataValue.int(0),
            "guards": dg.MetadataValue.json(guards),
            "refused": ", ".join(f"{g.get('name')}: {g.get('reason')}" for g in refused) or "none",
            "plan": dg.MetadataValue.path(str(run.paths.plan)),
        },
    )


def build_manifest_assets(partitions: dg.PartitionsDefinition) -> Sequence[Any]:
    """The manifest asset of a trading day and its blocking checks."""

    @dg.asset(
        partitions_def=partitions,
        group_name=GROUP,
        kinds={"python", "yaml"},
        description="The day's dataset manifest and plan: session window in UTC, run names, guard results.",
    )
    def simulation_manifest(
        context: dg.AssetExecutionContext,
        simulation_config: SimulationConfigResource,
        kafka: KafkaResource,
        clickhouse: ClickHouseResource,
        postgres: PostgresResource,
    ) -> dg.MaterializeResult[None]:
        """Render, guard and write the day's manifest.yaml and plan.json."""
        run = simulation_config.partition_run(context.partition_key)
        template = simulation_config.template(
            {
                "kafka": kafka.manifest_overrides(),
                "clickhouse": clickhouse.manifest_overrides(),
                "postgres": postgres.manifest_overrides(),
            }
        )
        window = simulation_config.window(run.day)
        written = plan_day(template, run.names, window, str(simulation_config.output_dir))
        plan, manifest_path, plan_path = written.plan, written.manifest_path, written.plan_path
        return dg.MaterializeResult(
            metadata={
                "trading_day": run.day.isoformat(),
                "run_id": run.names.run_id,
                "dataset_id": run.names.dataset_id,
                "window_start": plan.data["window"]["start"],
                "window_end": plan.data["window"]["end"],
                "dump_window": f"{plan.data['window']['dump_start']} .. {plan.data['window']['dump_end']}",
                "session_minutes": window.session_minutes,
                "early_close": window.early_close,
                "names": dg.MetadataValue.json(plan.data["names"]),
                "guards_ok": plan.ok,
                "guards": dg.MetadataValue.json(plan.data["guards"]),
                # Names of the secret variables and whether each is set; never their values.
                "secrets": dg.MetadataValue.json(plan.data["secrets"]),
                "warnings": dg.MetadataValue.json(plan.data["warnings"]),
                "run_dir": dg.MetadataValue.path(str(run.paths.root)),
                "manifest": dg.MetadataValue.path(str(manifest_path)),
                "plan": dg.MetadataValue.path(str(plan_path)),
            }
        )

    @day_check(simulation_manifest, blocking=True)
    def full_day_window(run: DayRun) -> dg.AssetCheckResult:
        """The window is exactly the NYSE session of the day (full-day profile) and long enough."""
        return guard_check(run, window=True)

    @day_check(simulation_manifest, blocking=True)
    def isolation_guards(run: DayRun) -> dg.AssetCheckResult:
        """Databases, topics, runtime target and env are simulation-only; none is production."""
        return guard_check(run, window=False)

    return [simulation_manifest, full_day_window, isolation_guards]
