"""Finishing a cancelled run's teardown exactly as a failed run's: the cancelled-run sensor.

Cancelling a backfill (or one of its runs) interrupts the simulation step, whose lifecycle restores the
runtime and unlocks on its way out. When the run's process died before it could (killed after the cancel
timeout, a lost worker), the run directory still shows the runtime captured: this sensor then requests
the same cleanup run the failure sensor would, under the same owner check.
"""

import dagster as dg

from sensors.cleanup import cleanup_for_ended_run, cleanup_sensor_options


def build_cancel_sensor(cleanup_job: dg.JobDefinition) -> dg.SensorDefinition:
    """The run-status sensor over cancelled runs of every job of the code location."""
    return dg.run_status_sensor(
        name="simulation_cleanup_on_cancel",
        run_status=dg.DagsterRunStatus.CANCELED,
        **cleanup_sensor_options(cleanup_job, "cancelled"),
    )(cleanup_for_ended_run)
