"""Which parts of a day's manifest changed since its simulation ran: a reused outcome says so."""

from __future__ import annotations

from typing import Any

from torghut_sim.layout import RunPaths
from torghut_sim.manifest.dataset import DatasetManifest
from torghut_sim.manifest.files import dump_manifest, load_manifest
from torghut_sim.manifest.section import ManifestError

# Sections that do not change what the runtime does with the day: where the servers are, which runtime
# lane ran it, how Argo CD is handled, and the report's cost model (applied when the report is built).
OUTCOME_NEUTRAL_SECTIONS = frozenset({"kafka", "clickhouse", "postgres", "runtime", "argocd", "reporting"})


def record_simulated_manifest(paths: RunPaths, manifest: DatasetManifest) -> None:
    """Keep the manifest a simulation starts under, beside the outcome it will leave."""
    dump_manifest(manifest, paths.simulated_manifest)


def _sections(manifest: DatasetManifest) -> dict[str, Any]:
    return {k: v for k, v in manifest.to_data().items() if k not in OUTCOME_NEUTRAL_SECTIONS}


def manifest_changes(paths: RunPaths) -> list[str] | None:
    """The top-level sections that differ between the day's manifest and the one its simulation ran
    under (outcome-neutral sections aside); None when either is missing or unreadable."""
    try:
        simulated = _sections(load_manifest(paths.simulated_manifest))
        current = _sections(load_manifest(paths.manifest))
    except (OSError, ManifestError):
        return None
    return sorted(k for k in simulated.keys() | current.keys() if simulated.get(k) != current.get(k))
