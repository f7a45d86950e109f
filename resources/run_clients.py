"""The resource that hands a day's steps their clients: Kafka, ClickHouse and Postgres, secrets resolved.

The manifest names the variables that hold each secret; this resource reads them when a step asks for its
clients (from the process environment, or from a directory of files named after them, as a mounted
Kubernetes Secret is), so the domain receives connection objects and never looks at the environment, and
no secret enters the Dagster config, a run's config snapshot or asset metadata. A test swaps the resource
the Dagster way.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from torghut_sim.kafka.connection import KafkaConnection
    from torghut_sim.manifest import DatasetManifest
    from torghut_sim.naming import RunNames
    from torghut_sim.run_clients import Connections


class RunClientsResource(dg.ConfigurableResource["RunClientsResource"]):
    """Resolves a run's clients from its manifest and the secrets the process environment holds."""

    # A directory whose files are named after secret variables (e.g. a Kubernetes Secret mounted as a
    # volume); a variable set in the environment wins over its file. None: the environment only.
    secrets_dir: str | None = None

    def _environ(self) -> Mapping[str, str]:
        if not self.secrets_dir:
            return os.environ
        folder = Path(self.secrets_dir).expanduser()
        # A mounted Secret also holds `..data`-style entries; only visible regular files are secrets.
        files = {
            entry.name: entry.read_text(encoding="utf-8").strip()
            for entry in folder.iterdir()
            if not entry.name.startswith(".") and entry.is_file()
        }
        return {**files, **os.environ}

    def source_kafka(self, manifest: "DatasetManifest") -> "KafkaConnection":
        """The production Kafka the day's dump reads (only its own secret is resolved)."""
        # Imported here: the Kafka client would slow every code location load.
        from torghut_sim.run_clients import source_kafka  # noqa: PLC0415

        return source_kafka(manifest, self._environ())

    def for_run(self, manifest: "DatasetManifest", names: "RunNames") -> "Connections":
        """Every client of a day's simulation; a missing secret variable fails here, before any change."""
        from torghut_sim.run_clients import resolve_connections  # noqa: PLC0415

        return resolve_connections(manifest, names, self._environ())
