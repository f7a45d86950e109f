"""Errors of the local stack, each with a stable reason code."""

from __future__ import annotations


class DevstackError(Exception):
    """A local-stack failure with a stable snake_case reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"[{reason}] {message}")
        self.reason = reason
        self.message = message
