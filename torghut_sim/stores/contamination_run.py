"""What marks one run's data in production: its id, its token and the simulated window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RunIdentity:
    """What marks the run's data: its id, its token and the simulated window."""

    run_id: str
    run_token: str
    window_start: datetime
    window_end: datetime

    @property
    def markers(self) -> tuple[str, ...]:
        """The strings that only this run writes."""
        return tuple(dict.fromkeys(m for m in (self.run_id, self.run_token) if m))

    def to_json(self) -> dict[str, str]:
        """The identity as evidence."""
        return {
            "run_id": self.run_id,
            "run_token": self.run_token,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
        }
