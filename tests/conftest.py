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
CTRL_C = {signal.SIGINT, signal.SIGTERM}


@pytest.fixture(scope="session")
def upstream_dir() -> Path:
    """The real deployment objects and dataset manifests in ../shared/upstream-fixtures."""
    if not UPSTREAM.is_dir():
        pytest.fail(f"upstream fixtures not found at {UPSTREAM}")
    return UPSTREAM


@pytest.fixture(autouse=True)
def _default_ctrl_c(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts with Python's own Ctrl-C handler, SIGINT and SIGTERM unblocked."""
    # A suite started in the background by a non-interactive shell (`cmd &`, as CI runners may) inherits
    # SIGINT ignored, and a CLI child a test starts inherits that too, so no Ctrl-C would reach it; the
    # tests are about a run started from a terminal. Put the defaults back, and say so in the summary.
    handler = signal.getsignal(signal.SIGINT)
    blocked = CTRL_C & signal.pthread_sigmask(signal.SIG_UNBLOCK, CTRL_C)
    if handler is not signal.default_int_handler or blocked:
        # A warning lands in pytest's summary even when every test passes.
        warnings.warn(
            f"{request.node.nodeid} found SIGINT handler {handler!r}, blocked {sorted(blocked)}; reset",
            stacklevel=1,
        )
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
