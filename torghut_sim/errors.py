"""The base of every domain error: a stable snake_case reason code and one readable message."""

from __future__ import annotations


class TorghutSimError(Exception):
    """A refusal or failure that users see as one line: `[reason] message`."""

    reason: str = "torghut_sim_error"

    def __init__(self, message: str, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        self.message = message
        super().__init__(f"[{self.reason}] {message}")
