"""The replay marker: proof that one dump (by payload hash) was replayed into one run's topics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from torghut_sim.atomic_file import write_text_atomic
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.pacing import PaceMode

REPLAY_MARKER_SCHEMA = "torghut.replay-marker.v1"


class PaceRecord(BaseModel):
    """The pace settings a replay ran with."""

    model_config = ConfigDict(frozen=True)

    mode: PaceMode
    acceleration: float
    max_sleep_seconds: float


class ReplayMarker(BaseModel):
    """Written once every record of a dump was confirmed delivered; a rerun of the same dump skips."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal["torghut.replay-marker.v1"] = "torghut.replay-marker.v1"
    dump_file: str
    dump_sha256: str
    run_token: str
    records: int
    records_by_topic: dict[str, int]
    topic_map: dict[str, str]
    pace: PaceRecord
    duration_seconds: float
    started_at: datetime
    completed_at: datetime

    def write(self, path: Path) -> None:
        """Write atomically (temp file + rename)."""
        write_text_atomic(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> ReplayMarker:
        """Load a marker; an invalid one is refused rather than ignored."""
        try:
            return cls.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ReplayError(f"{path}: {exc}", reason="replay_marker_invalid") from None
