"""The nightly schedule: at 21:00 New York, simulate the latest completed trading day (one run per day)."""

from datetime import UTC, date, datetime

import dagster as dg

from torghut_sim.calendar import NEW_YORK, partition_key, previous_completed_trading_day

NIGHTLY_CRON = "0 21 * * *"


def nightly_day(tick: datetime) -> date:
    """The trading day a tick simulates: the latest one strictly before the tick's New York date."""
    return previous_completed_trading_day(tick)


def nightly_run_key(day: date) -> str:
    """One run key per trading day, so the weekend's ticks (all naming Friday) launch Friday once."""
    return f"nightly-{partition_key(day)}"


def build_nightly_schedule(job_name: str, first_day: date) -> dg.ScheduleDefinition:
    """The 21:00 America/New_York schedule of the trading-day job whose partitions start at `first_day`."""

    @dg.schedule(
        name="nightly_simulation",
        job_name=job_name,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=str(NEW_YORK),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every evening, simulate the latest completed NYSE trading day (deduplicated per day).",
    )
    def nightly_simulation(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        """Request the partition of the latest completed trading day."""
        tick = context.scheduled_execution_time or datetime.now(UTC)
        day = nightly_day(tick)
        if day < first_day:
            return dg.SkipReason(f"{day.isoformat()} is before the first partition {first_day.isoformat()}")
        return dg.RunRequest(
            run_key=nightly_run_key(day),
            partition_key=partition_key(day),
            tags={"torghut-sim/trigger": "nightly"},
        )

    return nightly_simulation
