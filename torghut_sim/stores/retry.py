"""Retry of transient connection failures with capped exponential backoff.

Only failures that a later attempt can fix are retried: a refused or dropped connection, a server that
is starting up or shutting down. Authentication, permission and "does not exist" errors are final on the
first attempt, since repeating them only delays the real message (and may lock an account).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg

T = TypeVar("T")

# SQLSTATEs of a server going away or not being ready yet: class 08 and the shutdown codes of 57P.
_TRANSIENT_SQLSTATES = frozenset({"08000", "08001", "08003", "08006", "57P01", "57P02", "57P03"})
# Checked first: any of these makes the failure final, whatever else the message says.
_FINAL_MARKERS = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "permission denied",
    "no pg_hba.conf entry",
    "does not exist",
    "must be owner",
    "must be superuser",
    "invalid dsn",
    "invalid connection option",
)
_TRANSIENT_MARKERS = (
    "connection refused",
    "server closed the connection",
    "terminating connection",
    "could not receive data",
    "could not send data",
    "connection reset",
    "connection timed out",
    "timeout expired",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "no connection to the server",
    "consuming input failed",
    "ssl syscall error",
    "server conn crashed",
)


def is_transient(exc: BaseException) -> bool:
    """True for a connection-level failure that a new connection may not hit again."""
    if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    message = str(exc).lower()
    if exc.sqlstate is not None and exc.sqlstate.startswith("28"):
        return False
    if any(marker in message for marker in _FINAL_MARKERS):
        return False
    if exc.sqlstate in _TRANSIENT_SQLSTATES:
        return True
    return any(marker in message for marker in _TRANSIENT_MARKERS)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry; `sleep` is injectable so tests never wait on the clock."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    is_transient: Callable[[BaseException], bool] = field(default=is_transient, compare=False)

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number `attempt` (1-based)."""
        return float(min(self.max_delay, self.base_delay * (2 ** (attempt - 1))))


DEFAULT_RETRY = RetryPolicy()


def with_retry(operation: Callable[[], T], policy: RetryPolicy = DEFAULT_RETRY) -> T:
    """Run `operation`, retrying it after transient failures; the operation must be idempotent."""
    attempt = 1
    while True:
        try:
            return operation()
        except Exception as exc:
            if attempt >= policy.attempts or not policy.is_transient(exc):
                raise
            policy.sleep(policy.delay(attempt))
            attempt += 1
