"""The atomic writers: the target is whole or absent, secrets get their mode before the rename."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from torghut_sim import atomic_file
from torghut_sim.atomic_file import partial_path, write_json_atomic, write_text_atomic


def test_json_is_indented_sorted_and_ends_with_a_newline(tmp_path: Path) -> None:
    target = tmp_path / "run" / "state.json"
    write_json_atomic(target, {"b": 1, "a": {"d": 2, "c": 3}})
    assert target.read_text() == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'
    assert not partial_path(target).exists()


def test_a_secret_is_private_before_it_appears(tmp_path: Path) -> None:
    target = tmp_path / "token"
    write_text_atomic(target, "s3cret\n", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() == "s3cret\n"


def test_a_failed_write_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "marker.json"
    write_json_atomic(target, {"generation": 1})

    def refuse_rename(self: Path, other: Path) -> Path:
        raise OSError("disk gone")

    monkeypatch.setattr(atomic_file.Path, "replace", refuse_rename)
    with pytest.raises(OSError):
        write_json_atomic(target, {"generation": 2})
    assert json.loads(target.read_text()) == {"generation": 1}
