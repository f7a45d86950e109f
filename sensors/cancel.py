"""Finishing a cancelled run's teardown exactly as a failed run's: the cancelled-run sensor.

Cancelling a backfill (or one of its runs) interrupts the simulation step, whose lifecycle restores the
runtime and unlocks on its way out. When the run's process died before it could (killed after the cancel
timeout, a lost worker), the run directory still shows the runtime captured: this sensor then requests
the same cleanup run the failure sensor would, under the same owner check.
"""

import dagster as dg

from resources import SimulationConfigResource
from sensors.cleanup import cleanup_sensor_options, on_failed_run


def build_cancel_sensor(cleanup_job: dg.JobDefinition) -> dg.SensorDefinition:
    """The run-status sensor over cancelled runs of every job of the code location."""

    @dg.run_status_sensor(
        name="simulation_cleanup_on_cancel",
        run_status=dg.DagsterRunStatus.CANCELED,
        **cleanup_sensor_options(cleanup_job, "cancelled"),
    )
    def simulation_cleanup_on_cancel(
        context: dg.RunStatusSensorContext, simulation_config: SimulationConfigResource
    ) -> dg.RunRequest | dg.SkipReason:
        """Turn one cancelled run into a cleanup run (or nothing, when its lifecycle restored all)."""
        run = context.dagster_run
        return on_failed_run(run.job_name, run.run_id, run.tags, simulation_config, context.instance)

    return simulation_cleanup_on_cancel
