"""The run directory `<output_root>/<run_token>/`: where every artifact of one simulation run lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The capture a clean unlock retires (`state.json` renamed): the baseline the drift sensor compares with.
STATE_RESTORED_NAME = "state.restored.json"
# Figures exported from the simulation ClickHouse database, one Parquet file each under `outputs/`.
CLICKHOUSE_EXPORTS: tuple[str, ...] = ("last_prices", "clickhouse_counts")


@dataclass(frozen=True)
class RunPaths:
    """Every file of one run, by role; a pure function of the run directory."""

    root: Path

    @property
    def manifest(self) -> Path:
        """The per-day dataset manifest as used by the run."""
        return self.root / "manifest.yaml"

    @property
    def simulated_manifest(self) -> Path:
        """The manifest the last simulation started under; a reused outcome is compared with `manifest`."""
        return self.root / "manifest.simulated.yaml"

    @property
    def plan(self) -> Path:
        """The validated plan: window, names, guard results."""
        return self.root / "plan.json"

    @property
    def dump(self) -> Path:
        """The ordered, compressed source dump."""
        return self.root / "source-dump.jsonl.zst"

    @property
    def dump_marker(self) -> Path:
        """Hashes and counts of the dump; a dump is reused only when it agrees with the file."""
        return self.root / "source-dump.marker.json"

    @property
    def replay_marker(self) -> Path:
        """Proof that the dump was replayed, keyed by the dump's payload hash."""
        return self.root / "replay-marker.json"

    @property
    def state(self) -> Path:
        """Captured pre-run values of everything the run patches (the restore source)."""
        return self.root / "state.json"

    @property
    def state_restored(self) -> Path:
        """`state.json` as retired by a clean unlock: the runtime was restored from it."""
        return self.root / STATE_RESTORED_NAME

    @property
    def run_state(self) -> Path:
        """Append-only phase transitions of the run."""
        return self.root / "run-state.json"

    @property
    def restore_required(self) -> Path:
        """Written only when a restore failed: the remaining differences and the commands to fix them."""
        return self.root / "restore-required.json"

    @property
    def contamination(self) -> Path:
        """Production-side snapshots before and after and their comparison."""
        return self.root / "contamination.json"

    @property
    def monitor(self) -> Path:
        """What every stage reached when the monitor ended, and whether the run's inputs were complete."""
        return self.root / "monitor.json"

    @property
    def outputs_dir(self) -> Path:
        """Parquet exports of the simulation tables."""
        return self.root / "outputs"

    @property
    def export_manifest(self) -> Path:
        """Row counts and hashes of every exported Parquet file."""
        return self.outputs_dir / "export-manifest.json"

    def output_table(self, table: str) -> Path:
        """The Parquet export of one simulation table."""
        return self.outputs_dir / f"{table}.parquet"

    @property
    def runtime_metrics_dir(self) -> Path:
        """The runtime's `/metrics` scrapes before the replay and after the monitor (`*.prom`)."""
        return self.root / "runtime-metrics"

    @property
    def runtime_metrics(self) -> Path:
        """The status of both scrapes and the per-sample deltas of the run."""
        return self.runtime_metrics_dir / "runtime-metrics.json"

    @property
    def report_dir(self) -> Path:
        """The report bundle: JSON, Markdown, CSV, Parquet and charts."""
        return self.root / "report"


def run_paths(output_root: Path, run_token: str) -> RunPaths:
    """The run directory of a run token under an output root."""
    return RunPaths(output_root / run_token)
