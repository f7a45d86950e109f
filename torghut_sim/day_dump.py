"""The source dump of one day's run: the manifest's dump window, judged against its session."""

from __future__ import annotations

from torghut_sim.dump.dumper import dump_source
from torghut_sim.dump.request import DumpRequest, DumpResult
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.progress import ProgressCallback
from torghut_sim.layout import RunPaths
from torghut_sim.manifest import DatasetManifest
from torghut_sim.naming import RunNames


def dump_day(
    connection: KafkaConnection,
    manifest: DatasetManifest,
    names: RunNames,
    paths: RunPaths,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> DumpResult:
    """Dump the day's source records into the run directory, or reuse a dump its marker verifies."""
    window = manifest.window
    paths.root.mkdir(parents=True, exist_ok=True)
    return dump_source(
        connection,
        DumpRequest(
            window_start=window.dump_start,
            window_end=window.dump_end,
            dump_path=paths.dump,
            marker_path=paths.dump_marker,
            # Buffers widen what is dumped; coverage always judges the session itself.
            session_start=window.start,
            session_end=window.end,
            run_token=names.run_token,
        ),
        force=force,
        progress=progress,
    )
