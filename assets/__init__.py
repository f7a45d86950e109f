"""Dagster assets and asset checks: thin wrappers that turn a trading-day partition into domain calls."""

# The assets of one trading day in dependency order: the day job's selection, and what a day backfill runs.
DAY_ASSETS: tuple[str, ...] = (
    "simulation_manifest",
    "source_dump",
    "replay_marker",
    "simulation_outputs",
    "simulation_report",
)
