"""Which failures are retried, and how the backoff grows."""

from __future__ import annotations

import psycopg
import pytest

from torghut_sim.stores.retry import RetryPolicy, is_transient, with_retry


@pytest.mark.parametrize(
    "message",
    [
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused',
        "consuming input failed: server closed the connection unexpectedly",
        "terminating connection due to administrator command",
        "the database system is starting up",
    ],
)
def test_connection_failures_are_transient(message: str) -> None:
    assert is_transient(psycopg.OperationalError(message))


@pytest.mark.parametrize(
    "message",
    [
        'connection failed: FATAL:  password authentication failed for user "postgres"',
        "permission denied for table trade_decisions",
        'FATAL:  database "x" does not exist',
        'no pg_hba.conf entry for host "10.0.0.1"',
    ],
)
def test_auth_and_permission_failures_are_final(message: str) -> None:
    assert not is_transient(psycopg.OperationalError(message))


def test_other_exceptions_are_final() -> None:
    assert not is_transient(ValueError("connection refused"))
    assert not is_transient(psycopg.errors.UndefinedTable("relation does not exist"))


def test_retries_until_success_with_growing_delays() -> None:
    delays: list[float] = []
    calls = iter([psycopg.OperationalError("Connection refused")] * 3 + [None])

    def op() -> str:
        exc = next(calls)
        if exc is not None:
            raise exc
        return "done"

    policy = RetryPolicy(attempts=5, base_delay=0.5, max_delay=1.5, sleep=delays.append)
    assert with_retry(op, policy) == "done"
    assert delays == [0.5, 1.0, 1.5]


def test_gives_up_after_the_last_attempt() -> None:
    delays: list[float] = []
    attempts: list[int] = []

    def op() -> None:
        attempts.append(1)
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    with pytest.raises(psycopg.OperationalError):
        with_retry(op, RetryPolicy(attempts=3, sleep=delays.append))
    assert len(attempts) == 3 and len(delays) == 2


def test_final_error_is_raised_on_the_first_attempt() -> None:
    attempts: list[int] = []

    def op() -> None:
        attempts.append(1)
        raise psycopg.OperationalError("password authentication failed for user x")

    with pytest.raises(psycopg.OperationalError):
        with_retry(op, RetryPolicy(sleep=lambda _: None))
    assert attempts == [1]
