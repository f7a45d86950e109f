"""Waiting for the runtime: a readiness verdict with reasons, and a bounded wait that says why it gave up."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torghut_sim.errors import TorghutSimError


class ReadinessTimeoutError(TorghutSimError):
    """Something did not become ready in time; the message carries the last reasons."""

    reason = "readiness_timeout"


@dataclass(frozen=True)
class Readiness:
    """Ready or not, with the reasons it is not and the facts observed."""

    ready: bool
    reasons: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, details: Mapping[str, Any] | None = None) -> Readiness:
        """Ready, with what was observed."""
        return cls(True, (), dict(details or {}))

    @classmethod
    def not_ready(cls, *reasons: str, details: Mapping[str, Any] | None = None) -> Readiness:
        """Not ready, for these reasons."""
        return cls(False, tuple(reasons), dict(details or {}))


def wait_until_ready(
    what: str,
    check: Callable[[], Readiness],
    timeout_seconds: float,
    poll_seconds: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Readiness:
    """Poll `check` until ready; ReadinessTimeoutError with the last reasons after `timeout_seconds`."""
    deadline = clock() + timeout_seconds
    while True:
        verdict = check()
        if verdict.ready:
            return verdict
        if clock() >= deadline:
            reasons = "; ".join(verdict.reasons) or "no reason given"
            raise ReadinessTimeoutError(f"{what} not ready after {timeout_seconds:g}s: {reasons}")
        sleep(poll_seconds)
