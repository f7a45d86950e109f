"""Reading and writing dump files: `.jsonl.zst` (written), `.jsonl.gz` and `.ndjson` (read as well).

The writer computes both hashes of the contract while it writes: `payload_sha256` over every stripped
line + "\\n" (independent of compression) and `sha256` over the file bytes. It writes to a `.partial`
file and renames on success, so a crashed dump never looks complete.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import zstandard

from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.record import DumpRecord

_READ_BUFFER = 1 << 20


class DumpFormatUnknownError(DumpError):
    """A dump path whose suffix names no supported format."""

    reason = "dump_format_unknown"


def dump_format(path: Path) -> str:
    """`zst`, `gz` or `plain`, from the file name."""
    name = path.name.removesuffix(".partial")
    if name.endswith(".zst"):
        return "zst"
    if name.endswith(".gz"):
        return "gz"
    if name.endswith((".ndjson", ".jsonl", ".json")):
        return "plain"
    raise DumpFormatUnknownError(f"{path.name}: expected .jsonl.zst, .jsonl.gz or .ndjson")


def open_decompressed(path: Path) -> IO[bytes]:
    """The uncompressed byte stream of a dump file."""
    fmt = dump_format(path)
    raw = path.open("rb")
    if fmt == "zst":
        # A dump may be several concatenated frames (the native engine compresses frames in parallel).
        reader = zstandard.ZstdDecompressor().stream_reader(
            raw, read_size=_READ_BUFFER, closefd=True, read_across_frames=True
        )
        return io.BufferedReader(reader, buffer_size=_READ_BUFFER)
    if fmt == "gz":
        return io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=_READ_BUFFER)
    return io.BufferedReader(raw, buffer_size=_READ_BUFFER)


def iter_lines(path: Path) -> Iterator[bytes]:
    """Every non-blank line of a dump, stripped, in file order."""
    with open_decompressed(path) as stream:
        for line in stream:
            stripped = line.strip()
            if stripped:
                yield stripped


def iter_records(path: Path) -> Iterator[DumpRecord]:
    """Every record of a dump, parsed, in file order."""
    for line in iter_lines(path):
        yield DumpRecord.from_line(line)


def payload_sha256(path: Path) -> tuple[str, int]:
    """The payload hash and line count of a dump, whatever its compression."""
    digest = hashlib.sha256()
    count = 0
    for line in iter_lines(path):
        digest.update(line)
        digest.update(b"\n")
        count += 1
    return digest.hexdigest(), count


def file_sha256(path: Path) -> str:
    """The hash of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_READ_BUFFER):
            digest.update(block)
    return digest.hexdigest()


class _HashingFile(io.RawIOBase):
    """A write-only file that hashes every byte it passes to the real file."""

    def __init__(self, target: IO[bytes]) -> None:
        super().__init__()
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        self.size += view.nbytes
        self.target.write(view)
        return view.nbytes

    def flush(self) -> None:
        self.target.flush()


@dataclass(frozen=True)
class WrittenDump:
    """What the writer produced: the file, both hashes, the line count and the size."""

    path: Path
    sha256: str
    payload_sha256: str
    records: int
    size_bytes: int


class DumpWriter:
    """Writes stripped lines to a dump file in the format its name says, hashing as it goes."""

    def __init__(
        self, path: Path, zstd_level: int = 3, zstd_threads: int = 1, background: bool = False
    ) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.format = dump_format(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.partial.open("wb")
        self._hashing = _HashingFile(self._file)
        self._payload = hashlib.sha256()
        self.records = 0
        self._stream: Any
        if self.format == "zst":
            # Compression releases the GIL; threads > 0 adds zstd's own worker threads on top.
            cctx = zstandard.ZstdCompressor(level=zstd_level, threads=zstd_threads)
            self._stream = cctx.stream_writer(cast(IO[bytes], self._hashing), closefd=False)
        elif self.format == "gz":
            self._stream = gzip.GzipFile(fileobj=self._hashing, mode="wb", mtime=0)
        else:
            self._stream = self._hashing
        self._closed = False
        # Hashing and compression release the GIL: a writer thread overlaps them with the caller's work.
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        if background:
            # Two blocks in flight: enough to overlap, and a bounded share of the memory budget.
            self._queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._drain, name="dump-writer", daemon=True)
            self._thread.start()

    def _drain(self) -> None:
        assert self._queue is not None
        while (block := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._consume(block)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller at commit
                    self._error = exc

    def _consume(self, block: bytes) -> None:
        self._payload.update(block)
        self._stream.write(block)

    def _join(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error

    def write_block(self, block: bytes, count: int) -> None:
        """Append `count` lines already joined as `line\\n...line\\n` (each line stripped)."""
        if self._queue is not None:
            if self._error is not None:
                raise self._error
            self._queue.put(block)
        else:
            self._consume(block)
        self.records += count

    def write_lines(self, lines: Iterable[bytes]) -> None:
        """Append lines (without newline; stripped here)."""
        batch = [line.strip() for line in lines]
        batch = [line for line in batch if line]
        if batch:
            self.write_block(b"\n".join(batch) + b"\n", len(batch))

    def commit(self) -> WrittenDump:
        """Finish the file, fsync it and move it into place."""
        self._join()
        if self.format != "plain":
            self._stream.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._closed = True
        self.partial.replace(self.path)
        return WrittenDump(
            path=self.path,
            sha256=self._hashing.digest.hexdigest(),
            payload_sha256=self._payload.hexdigest(),
            records=self.records,
            size_bytes=self._hashing.size,
        )

    def abort(self) -> None:
        """Drop the partial file."""
        with contextlib.suppress(BaseException):
            self._join()
        if not self._closed:
            self._file.close()
            self._closed = True
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> DumpWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None or not self._closed:
            self.abort()
