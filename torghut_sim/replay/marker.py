"""The replay marker: proof that one dump (by payload hash) was replayed into one run's topics."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from torghut_sim.marker_file import MarkerFile
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.pacing import PaceMode

REPLAY_MARKER_SCHEMA = "torghut.replay-marker.v1"


class PaceRecord(BaseModel):
    """The pace settings a replay ran with."""

    model_config = ConfigDict(frozen=True)

    mode: PaceMode
    acceleration: float
    max_sleep_seconds: float


class ReplayMarkerInvalidError(ReplayError):
    """A marker file that is not a valid replay marker."""

    reason = "replay_marker_invalid"


class ReplayMarker(MarkerFile):
    """Written once every record of a dump was confirmed delivered; a rerun of the same dump skips."""

    invalid_error = ReplayMarkerInvalidError

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
