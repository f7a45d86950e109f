"""The lane pool sensor: keeps the runtime pool's limit equal to the number of configured runtime lanes.

Dagster pools are sized in the instance, not in code; a limit above the lane count would start steps
that can only wait for a lane, and one below it would leave lanes idle. The limit is only ever set to the
lane count (1 without a lanes file), so a deployment's pool always matches its runtimes.
"""

import dagster as dg


def sync_pool_limit(instance: dg.DagsterInstance, pool: str, slots: int) -> str:
    """Set the pool's limit to `slots` when it differs; what was done, in one line."""
    storage = instance.event_log_storage
    current = storage.get_concurrency_info(pool)
    if current.slot_count == slots and not current.using_default_limit:
        return f"pool {pool} has {slots} slot(s), one per runtime lane"
    storage.set_concurrency_slots(pool, slots)
    return f"pool {pool}: limit set from {current.slot_count} to {slots} (one per runtime lane)"


def build_lane_pool_sensor(pool: str, slots: int) -> dg.SensorDefinition:
    """The sensor that keeps `pool` at `slots` slots."""

    @dg.sensor(
        name="runtime_lane_pool",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Keep the pool {pool} at {slots} slot(s): one simulation per runtime lane.",
    )
    def runtime_lane_pool(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        """Size the runtime pool to the lanes and report it."""
        return dg.SkipReason(sync_pool_limit(context.instance, pool, slots))

    return runtime_lane_pool
