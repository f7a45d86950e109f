"""Signals deferred while a restore runs: a Ctrl-C (or SIGTERM) never cuts a teardown, Argo restore or unlock.

Inside `restore_shield()` SIGINT and SIGTERM are only recorded; on leaving, the previous handlers come back
and each recorded signal is delivered once to them, so the interrupt is handled after the restore is done.
Signal handlers live in the main thread only; elsewhere the shield does nothing (no signal lands there).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

DEFERRED: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM); raised in the main thread so `finally` cleanup runs."""


class DeferredSignals:
    """The signals that arrived while shielded, in order (each delivered once afterwards)."""

    def __init__(self) -> None:
        self.received: list[signal.Signals] = []

    @property
    def names(self) -> list[str]:
        """Their names, for run-state.json."""
        return [s.name for s in self.received]

    def discard(self) -> None:
        """Deliver nothing afterwards (the process is already stopping for an earlier interrupt)."""
        self.received.clear()

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum))


@contextlib.contextmanager
def restore_shield() -> Iterator[DeferredSignals]:
    """Defer SIGINT/SIGTERM until the block ends, then deliver each distinct one to the previous handler."""
    deferred = DeferredSignals()
    if threading.current_thread() is not threading.main_thread():
        yield deferred
        return
    previous: dict[signal.Signals, Any] = {}

    for sig in DEFERRED:
        # The handler only appends to a list: it may land in the middle of any write of the restore.
        previous[sig] = signal.signal(sig, deferred._record)
    try:
        yield deferred
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # One delivery per kind: a second Ctrl-C asked for nothing more than the first.
        for sig in dict.fromkeys(deferred.received):
            signal.raise_signal(sig)


@contextlib.contextmanager
def interrupt_once() -> Iterator[DeferredSignals]:
    """The first SIGINT/SIGTERM goes to the previous handler (it stops the run); later ones are only noted.

    A run that is stopping runs its cleanup next: a repeated Ctrl-C must not land between the interrupt
    and the restore shield, where nothing would catch it.
    """
    later = DeferredSignals()
    if threading.current_thread() is not threading.main_thread():
        yield later
        return
    previous: dict[signal.Signals, Any] = {}
    stopping = [False]

    def handle(signum: int, frame: FrameType | None) -> None:
        handler = previous[signal.Signals(signum)]
        if handler == signal.SIG_IGN:
            return
        if stopping[0]:
            later._record(signum, frame)
            return
        stopping[0] = True
        if callable(handler):
            handler(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            # SIGTERM's default is to die: first unwind into the cleanup, then die by it (below).
            later._record(signum, frame)
            raise Terminated("terminated by SIGTERM")

    for sig in DEFERRED:
        previous[sig] = signal.signal(sig, handle)
    try:
        yield later
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if signal.SIGTERM in later.received and previous[signal.SIGTERM] == signal.SIG_DFL:
            signal.raise_signal(signal.SIGTERM)
