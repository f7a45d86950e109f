"""The dataset manifest (CONTRACTS §8): one pydantic model per section, loading and writing.

Every real manifest loads unchanged. Unknown top-level sections (`rollouts`, `ta_restore`, …) are kept
and written back; unknown keys inside known sections are kept too and listed in `manifest.warnings` so
a typo is visible rather than silently ignored. Secrets are never read from the file: inline passwords
are refused and only the names of environment variables are stored.
"""

from torghut_sim.manifest.dataset import DatasetManifest
from torghut_sim.manifest.files import dump_manifest, load_manifest, parse_manifest
from torghut_sim.manifest.section import ManifestError
from torghut_sim.manifest.window import WindowSpec

__all__ = [
    "DatasetManifest",
    "ManifestError",
    "WindowSpec",
    "dump_manifest",
    "load_manifest",
    "parse_manifest",
]
