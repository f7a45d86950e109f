"""Shared pieces of the runtime commands (`apply`, `teardown`, `status`): common flags and signal handling."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from torghut_sim.layout import RunPaths
from torghut_sim.runtime.state_machine import Terminated


def add_cluster_args(parser: argparse.ArgumentParser, run_dir_required: bool = True) -> None:
    """`--kubeconfig` and `--run-dir`, which every runtime command takes."""
    parser.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig of the target cluster")
    parser.add_argument(
        "--run-dir",
        type=Path,
        required=run_dir_required,
        help="the run directory <output_root>/<run_token> (state.json, run-state.json live here)",
    )


def run_paths_of(args: argparse.Namespace) -> RunPaths | None:
    """The run directory from `--run-dir`, if given."""
    run_dir: Path | None = args.run_dir
    return RunPaths(run_dir) if run_dir is not None else None


def print_json(doc: Any) -> None:
    """Print a JSON document to stdout (what the commands report)."""
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def _raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated("terminated by SIGTERM")


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated in the main thread so cleanup in `finally` still runs."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
