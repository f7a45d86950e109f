"""Atomic file writes: a temporary file beside the target, then one rename onto it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def partial_path(path: Path) -> Path:
    """The temporary file a write goes through: beside the target, so the rename stays on one filesystem."""
    return path.with_name(path.name + ".partial")


def write_bytes_atomic(path: Path, data: bytes, *, mode: int | None = None, fsync: bool = False) -> None:
    """Write `data` so that a reader (or a crash) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    partial.write_bytes(data)
    if mode is not None:
        # Before the rename: a secret is never readable by others, not even for an instant.
        partial.chmod(mode)
    if fsync:
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
    partial.replace(path)


def write_text_atomic(path: Path, text: str, *, mode: int | None = None, fsync: bool = False) -> None:
    """Write UTF-8 text atomically."""
    write_bytes_atomic(path, text.encode("utf-8"), mode=mode, fsync=fsync)


def write_json_atomic(path: Path, doc: Any, *, fsync: bool = False) -> None:
    """Write a JSON document the way the run directory keeps them: indented, sorted keys, final newline."""
    text = json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"
    write_text_atomic(path, text, fsync=fsync)
