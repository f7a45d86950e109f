"""`source_dump`: the day's Kafka source topics as one ordered, hashed file, with its coverage checks."""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from assets.day_checks import day_check
from assets.figures import figures
from assets.manifest import GROUP
from assets.progress import progress_logger
from resources import DayRun, RunClientsResource, SimulationConfigResource
from torghut_sim.dump.marker import DumpMarker
from torghut_sim.manifest import WindowSpec, load_manifest


def dump_metadata(marker: DumpMarker, reused: bool) -> dict[str, Any]:
    """What the UI shows of a dump: status, counts, coverage, window and hashes."""
    return {
        "status": marker.status,
        **figures(
            {
                "records": marker.records,
                "expected_records": marker.expected_records,
                "coverage_ratio": marker.coverage.ratio,
                "covered_minutes": marker.coverage.covered_minutes,
                "session_minutes": marker.coverage.session_minutes,
                "out_of_window_skipped": marker.out_of_window_skipped,
            }
        ),
        "records_by_topic": dg.MetadataValue.json(marker.records_by_topic),
        "window": f"{marker.window.start.isoformat()} .. {marker.window.end.isoformat()}",
        "sha256": marker.sha256,
        "payload_sha256": marker.payload_sha256,
        "reused": reused,
    }


def window_and_marker(run: DayRun) -> tuple[WindowSpec, DumpMarker]:
    """The day's manifest window and its dump marker."""
    return load_manifest(run.paths.manifest).window, DumpMarker.read(run.paths.dump_marker)


def build_dump_assets(partitions: dg.PartitionsDefinition) -> Sequence[Any]:
    """The dump asset of a trading day and its blocking checks."""

    @dg.asset(
        partitions_def=partitions,
        group_name=GROUP,
        deps=["simulation_manifest"],
        kinds={"kafka", "python"},
        # Broker hiccups are transient; a rerun reuses nothing partial (the dump commits atomically).
        retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL),
        description="The day's source topics (trades, quotes, bars, status) from Kafka, ordered and hashed.",
    )
    def source_dump(
        context: dg.AssetExecutionContext,
        simulation_config: SimulationConfigResource,
        run_clients: RunClientsResource,
    ) -> dg.MaterializeResult[None]:
        """Dump (or reuse a verified dump of) the day's window; an empty day is a status, not an error."""
        # Imported here: the Kafka, ClickHouse and Postgres clients would slow every code location load.
        from torghut_sim.day_dump import dump_day  # noqa: PLC0415

        run = simulation_config.partition_run(context.partition_key)
        manifest = load_manifest(run.paths.manifest)
        result = dump_day(
            run_clients.source_kafka(manifest),
            manifest,
            run.names,
            run.paths,
            progress=progress_logger(context.log.info),
        )
        if result.marker.status == "empty_day":
            context.log.warning(f"{run.day.isoformat()}: no source records in the window (empty_day)")
        return dg.MaterializeResult(
            metadata={
                **dump_metadata(result.marker, result.reused),
                "dump": dg.MetadataValue.path(str(result.dump_path)),
                "marker": dg.MetadataValue.path(str(result.marker_path)),
            }
        )

    @day_check(source_dump, blocking=True)
    def session_coverage(run: DayRun) -> dg.AssetCheckResult:
        """Share of session minutes with records is at least the manifest's strict ratio."""
        # Blocks a thinly covered day; an empty day only warns and is recorded as `empty_day` downstream.
        window, marker = window_and_marker(run)
        ratio, strict = marker.coverage.ratio, window.strict_coverage_ratio
        metadata = {
            **figures({"coverage_ratio": ratio, "strict_coverage_ratio": strict}),
            "status": marker.status,
        }
        if marker.status == "empty_day":
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description="empty_day: no records in the session; nothing is simulated",
                metadata=metadata,
            )
        return dg.AssetCheckResult(passed=ratio >= strict, metadata=metadata)

    @day_check(source_dump, blocking=True)
    def exact_window(run: DayRun) -> dg.AssetCheckResult:
        """The dump covers exactly the manifest's dump window and judges exactly its session."""
        window, marker = window_and_marker(run)
        wanted = {
            "window": (window.dump_start, window.dump_end),
            "session": (window.start, window.end),
        }
        found = {
            "window": (marker.window.start, marker.window.end),
            "session": (marker.session.start, marker.session.end),
        }
        mismatched = [k for k in wanted if wanted[k] != found[k]]
        return dg.AssetCheckResult(
            passed=not mismatched,
            metadata={
                "expected": dg.MetadataValue.json({k: [t.isoformat() for t in v] for k, v in wanted.items()}),
                "found": dg.MetadataValue.json({k: [t.isoformat() for t in v] for k, v in found.items()}),
                "mismatched": ", ".join(mismatched) or "none",
                "mismatches": dg.MetadataValue.int(len(mismatched)),
                "mismatches_allowed": dg.MetadataValue.int(0),
            },
        )

    return [source_dump, session_coverage, exact_window]
