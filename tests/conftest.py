"""Shared pytest fixtures: repository paths, the upstream fixtures beside the project, default Ctrl-C."""

from __future__ import annotations

import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
UPSTREAM = SHARED / "upstream-fixtures"
DEFAULT_HANDLERS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


@pytest.fixture(scope="session")
def upstream_dir() -> Path:
    """The real deployment objects and dataset manifests in ../shared/upstream-fixtures."""
    if not UPSTREAM.is_dir():
        pytest.fail(f"upstream fixtures not found at {UPSTREAM}")
    return UPSTREAM


@pytest.fixture(autouse=True)
def _default_ctrl_c(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts with Python's own SIGINT and SIGTERM handlers, both signals unblocked."""
    # A suite started in the background by a non-interactive shell (`cmd &`, as CI runners may) inherits
    # SIGINT ignored, and a CLI child a test starts inherits that too, so no Ctrl-C would reach it; the
    # tests are about a run started from a terminal. Put the defaults back, and say so in the summary.
    ctrl_c = signal.getsignal(signal.SIGINT)
    blocked = set(DEFAULT_HANDLERS) & signal.pthread_sigmask(signal.SIG_UNBLOCK, DEFAULT_HANDLERS)
    if ctrl_c is not signal.default_int_handler or blocked:
        # A warning lands in pytest's summary even when every test passes.
        warnings.warn(
            f"{request.node.nodeid} found SIGINT handler {ctrl_c!r}, blocked {sorted(blocked)}; reset",
            stacklevel=1,
        )
    # Silently for SIGTERM: Dagster's in-process runs leave it mapped to the Ctrl-C handler on purpose.
    for sig, default in DEFAULT_HANDLERS.items():
        signal.signal(sig, default)
    yield
