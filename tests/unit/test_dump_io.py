"""Dump files: the three readable formats, and hashes that do not depend on compression."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
import zstandard

from torghut_sim.dump.io import (
    DumpFormatUnknownError,
    DumpWriter,
    file_sha256,
    iter_lines,
    iter_records,
    payload_sha256,
)
from torghut_sim.dump.record import DumpRecord

LINES = [
    DumpRecord("t.a", p, o, 1_000 + o, "torghut.sim.trades.v1.x", b"K%d" % o, b"V" * o, ()).to_line()
    for p in range(2)
    for o in range(50)
]


def _expected_payload(lines: list[bytes]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line + b"\n")
    return digest.hexdigest()


@pytest.mark.parametrize("name", ["d.jsonl.zst", "d.jsonl.gz", "d.ndjson"])
def test_writer_hashes_and_reader_round_trip(tmp_path: Path, name: str) -> None:
    with DumpWriter(tmp_path / name) as writer:
        writer.write_lines(LINES[:30])
        writer.write_block(b"\n".join(LINES[30:]) + b"\n", len(LINES) - 30)
        written = writer.commit()
    assert written.records == len(LINES)
    assert written.payload_sha256 == _expected_payload(LINES)
    assert written.sha256 == file_sha256(tmp_path / name)
    assert list(iter_lines(tmp_path / name)) == LINES
    assert payload_sha256(tmp_path / name) == (written.payload_sha256, len(LINES))
    assert [r.to_line() for r in iter_records(tmp_path / name)] == LINES
    assert not (tmp_path / (name + ".partial")).exists()


def test_payload_hash_is_independent_of_compression_and_whitespace(tmp_path: Path) -> None:
    zst = tmp_path / "a.jsonl.zst"
    with DumpWriter(zst) as writer:
        writer.write_lines(LINES)
        written = writer.commit()
    gz = tmp_path / "b.jsonl.gz"
    with gzip.open(gz, "wb") as handle:
        handle.write(b"\n".join(LINES) + b"\n")
    ndjson = tmp_path / "c.ndjson"
    # CRLF endings, padding and blank lines are not part of the payload.
    ndjson.write_bytes(b"\r\n".join(b"  " + line for line in LINES) + b"\r\n\n")
    hashes = {payload_sha256(path)[0] for path in (zst, gz, ndjson)}
    assert hashes == {written.payload_sha256}
    assert len({file_sha256(path) for path in (zst, gz, ndjson)}) == 3


def test_aborted_writer_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "x.jsonl.zst"
    with pytest.raises(RuntimeError), DumpWriter(target) as writer:
        writer.write_lines(LINES)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_empty_dump_is_valid(tmp_path: Path) -> None:
    with DumpWriter(tmp_path / "e.jsonl.zst") as writer:
        written = writer.commit()
    assert written.records == 0
    assert written.payload_sha256 == hashlib.sha256().hexdigest()
    assert list(iter_lines(tmp_path / "e.jsonl.zst")) == []


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DumpFormatUnknownError):
        DumpWriter(tmp_path / "dump.csv")


def test_a_dump_of_several_zstd_frames_is_read_whole(tmp_path: Path) -> None:
    # The native engine writes one frame per block so that frames compress in parallel.
    lines = [b'{"n":%d}\n' % i for i in range(6)]
    compressor = zstandard.ZstdCompressor()
    path = tmp_path / "source-dump.jsonl.zst"
    path.write_bytes(b"".join(compressor.compress(b"".join(lines[i : i + 2])) for i in range(0, 6, 2)))
    assert [line + b"\n" for line in iter_lines(path)] == lines
    digest, count = payload_sha256(path)
    assert (digest, count) == (hashlib.sha256(b"".join(lines)).hexdigest(), 6)
