"""The wire: the Content-Type of each result format and the decoding of a request body's Content-Encoding."""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from typing import Protocol

from torghut_sim.devstack.chdb_http.errors import ClickHouseError


def content_type(fmt: str) -> str:
    """The Content-Type ClickHouse sends for a result format."""
    lower = fmt.lower()
    if lower.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if lower.startswith("json"):
        return "application/json; charset=UTF-8"
    if lower.startswith("csv"):
        return "text/csv; charset=UTF-8; header=absent"
    if lower.startswith(("native", "rowbinary", "arrow", "parquet", "orc", "avro", "protobuf", "msgpack")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


class BodyDecoder:
    """Streaming decoder of a Content-Encoding; clients send one frame per block, so frames are chained."""

    def __init__(self, factory: Callable[[], _Decompressor] | None) -> None:
        self._factory = factory
        self._current = factory() if factory else None

    def feed(self, data: bytes) -> bytes:
        """Decode the next piece of the body."""
        if self._factory is None or self._current is None:
            return data
        out = []
        while data:
            if self._current.eof:
                self._current = self._factory()
            out.append(self._current.decompress(data))
            data = self._current.unused_data if self._current.eof else b""
        return b"".join(out)

    def finish(self) -> None:
        """Fail when the body ended in the middle of a frame."""
        if self._current is not None and not self._current.eof:
            raise ClickHouseError(
                354, "CANNOT_DECOMPRESS", "The request body ended in the middle of a compressed frame"
            )


def _lz4() -> _Decompressor:
    # Imported by name: lz4 ships no type stubs, and only clients that send lz4 need it.
    decompressor: _Decompressor = importlib.import_module("lz4.frame").LZ4FrameDecompressor()
    return decompressor


def _zstd() -> _Decompressor:
    decompressor: _Decompressor = importlib.import_module("zstandard").ZstdDecompressor().decompressobj()
    return decompressor


_DECOMPRESSORS: dict[str, Callable[[], _Decompressor]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "deflate": zlib.decompressobj,
    "zstd": _zstd,
    "lz4": _lz4,
}


def body_decoder(encoding: str | None) -> BodyDecoder:
    """The decoder of a request's Content-Encoding header."""
    name = (encoding or "").strip().lower()
    if name in ("", "identity"):
        return BodyDecoder(None)
    if name not in _DECOMPRESSORS:
        raise ClickHouseError(
            638, "UNKNOWN_COMPRESSION_METHOD", f"Unknown HTTP Content-Encoding {encoding!r}"
        )
    return BodyDecoder(_DECOMPRESSORS[name])
