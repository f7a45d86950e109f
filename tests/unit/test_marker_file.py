"""A marker file is written whole and read back equal, or refused with the marker's own reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from torghut_sim.errors import TorghutSimError
from torghut_sim.marker_file import MarkerFile


class _SampleInvalidError(TorghutSimError):
    reason = "sample_marker_invalid"


class _Sample(MarkerFile):
    invalid_error = _SampleInvalidError

    name: str
    records: int


def test_a_written_marker_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "run" / "sample.json"
    _Sample(name="day", records=3).write(path)
    assert _Sample.read(path) == _Sample(name="day", records=3)
    assert path.read_text().endswith("}\n")


@pytest.mark.parametrize("content", [None, "{not json", '{"name": "day"}'])
def test_a_missing_or_invalid_marker_is_refused_with_its_reason(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "sample.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(_SampleInvalidError, match=r"^\[sample_marker_invalid\] "):
        _Sample.read(path)
