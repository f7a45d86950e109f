"""Whether a run lock's holder is still alive: its heartbeat moving, judged on the observer's own clock.

The observer (the stale-lock sensor) remembers the lock version it saw and when it first saw it; a holder
whose lock has not changed for longer than its lease is dead, and so is one whose orchestrator run is
finished. Judging on the observer's clock makes skew between hosts irrelevant, and an API outage that
stopped the renewals resets the count as soon as the holder renews again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torghut_sim.runtime.lock import LockInfo

# A lock without a heartbeat (taken before heartbeats existed) is only stale after the old max lock age.
NO_HEARTBEAT_LEASE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Sighting:
    """A lock version as the observer first saw it (seconds on the observer's clock)."""

    run_id: str
    version: str
    since: float

    def to_json(self) -> dict[str, Any]:
        """For the sensor cursor."""
        return {"run_id": self.run_id, "version": self.version, "since": self.since}

    @classmethod
    def from_json(cls, doc: Any) -> Sighting | None:
        """From the sensor cursor (None for anything malformed)."""
        if not isinstance(doc, dict):
            return None
        try:
            return cls(str(doc["run_id"]), str(doc["version"]), float(doc["since"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Liveness:
    """The verdict on a holder and the sighting to remember for the next look."""

    dead: bool
    reason: str
    sighting: Sighting


def lease_of(holder: LockInfo) -> float:
    """How long the holder may leave its lock unchanged and count as alive."""
    return float(holder.lease_seconds if holder.heartbeat_at is not None else NO_HEARTBEAT_LEASE_SECONDS)


def judge(holder: LockInfo, seen: Sighting | None, now: float, owner_finished: bool = False) -> Liveness:
    """Dead when its run is finished, or its lock has not changed for longer than its lease."""
    if seen is None or seen.run_id != holder.run_id or seen.version != holder.resource_version:
        seen = Sighting(holder.run_id, holder.resource_version, now)
    if owner_finished:
        return Liveness(True, "owner_run_finished", seen)
    silent = now - seen.since
    lease = lease_of(holder)
    if silent > lease:
        return Liveness(True, f"no heartbeat for {silent:.0f}s (lease {lease:.0f}s)", seen)
    return Liveness(False, f"heartbeat seen {silent:.0f}s ago (lease {lease:.0f}s)", seen)
