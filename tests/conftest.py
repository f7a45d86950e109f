"""Shared pytest fixtures: repository paths and the upstream fixtures beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
UPSTREAM = SHARED / "upstream-fixtures"


@pytest.fixture(scope="session")
def upstream_dir() -> Path:
    """The real deployment objects and dataset manifests in ../shared/upstream-fixtures."""
    if not UPSTREAM.is_dir():
        pytest.fail(f"upstream fixtures not found at {UPSTREAM}")
    return UPSTREAM
