"""Asset checks of one trading day: each judges the day's run directory, found from the partition key."""

from collections.abc import Callable

import dagster as dg

from resources import DayRun, SimulationConfigResource

# What a check decides from the day's run (its names and its run directory).
DayJudge = Callable[[DayRun], dg.AssetCheckResult]


def day_check(
    asset: str | dg.AssetsDefinition, *, blocking: bool = False, description: str | None = None
) -> Callable[[DayJudge], dg.AssetChecksDefinition]:
    """Decorate a judge of the day's run as the asset check named after it (described by its docstring)."""

    def define(judge: DayJudge) -> dg.AssetChecksDefinition:
        @dg.asset_check(
            asset=asset,
            name=judge.__name__,
            blocking=blocking,
            description=description or judge.__doc__,
        )
        def check(
            context: dg.AssetCheckExecutionContext, simulation_config: SimulationConfigResource
        ) -> dg.AssetCheckResult:
            return judge(simulation_config.partition_run(context.partition_key))

        return check

    return define
