"""One line of the source dump: the contract record, its canonical JSON form and a fast encoder.

A line is a JSON object with sorted keys and compact separators; key, value and header values are
base64; a null key or value is JSON null. The fast encoder writes byte-identical lines without building
a dict per record, because the dump of a trading day runs it tens of millions of times.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass
from typing import Any

import orjson
from pybase64 import b64encode

from torghut_sim.dump.errors import DumpFormatError

Header = tuple[str, bytes | None]

LINE_KEYS: tuple[str, ...] = (
    "dataset_event_id",
    "headers",
    "key_b64",
    "replay_topic",
    "source_offset",
    "source_partition",
    "source_timestamp_ms",
    "source_topic",
    "value_b64",
)


def b64(data: bytes | None) -> str | None:
    """Base64 text of bytes, None for None."""
    if data is None:
        return None
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def unb64(text: str | None) -> bytes | None:
    """Bytes of base64 text, None for None."""
    if text is None:
        return None
    return binascii.a2b_base64(text, strict_mode=True)


@dataclass(frozen=True, slots=True)
class DumpRecord:
    """One Kafka record as dumped: where it came from, where it is replayed, and its bytes."""

    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp_ms: int
    replay_topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()

    @property
    def dataset_event_id(self) -> str:
        """The record's identity in the dataset: `<topic>:<partition>:<offset>`."""
        return f"{self.source_topic}:{self.source_partition}:{self.source_offset}"

    def to_json_obj(self) -> dict[str, Any]:
        """The record as the contract's JSON object."""
        return {
            "dataset_event_id": self.dataset_event_id,
            "headers": [[name, b64(value)] for name, value in self.headers],
            "key_b64": b64(self.key),
            "replay_topic": self.replay_topic,
            "source_offset": self.source_offset,
            "source_partition": self.source_partition,
            "source_timestamp_ms": self.source_timestamp_ms,
            "source_topic": self.source_topic,
            "value_b64": b64(self.value),
        }

    def to_line(self) -> bytes:
        """The canonical line (no newline): sorted keys, compact separators."""
        return json.dumps(self.to_json_obj(), sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json_obj(cls, obj: Any) -> DumpRecord:
        """Parse a decoded line; the error names the offending field."""
        if not isinstance(obj, dict):
            raise DumpFormatError("a dump line must be a JSON object")
        try:
            headers = tuple((str(name), unb64(value)) for name, value in obj.get("headers") or ())
            record = cls(
                source_topic=obj["source_topic"],
                source_partition=int(obj["source_partition"]),
                source_offset=int(obj["source_offset"]),
                source_timestamp_ms=int(obj["source_timestamp_ms"]),
                replay_topic=obj.get("replay_topic") or "",
                key=unb64(obj.get("key_b64")),
                value=unb64(obj.get("value_b64")),
                headers=headers,
            )
        except KeyError as exc:
            raise DumpFormatError(f"dump line lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError, binascii.Error) as exc:
            raise DumpFormatError(f"dump line has an invalid field: {exc}") from None
        return record

    @classmethod
    def from_line(cls, line: bytes | str) -> DumpRecord:
        """Parse one dump line."""
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DumpFormatError(f"dump line is not JSON: {exc}") from None
        return cls.from_json_obj(obj)


def _json_str(text: str) -> bytes:
    # Topic and header names go through the JSON encoder so any character is escaped correctly;
    # `%` is doubled because the result becomes part of a %-format template.
    return json.dumps(text).encode("utf-8").replace(b"%", b"%%")


def encode_headers(headers: list[tuple[str, bytes | None]] | None) -> bytes:
    """The `headers` JSON array of a record."""
    if not headers:
        return b"[]"
    parts = []
    for name, value in headers:
        encoded = b"null" if value is None else b'"' + b64encode(value) + b'"'
        parts.append(b"[" + json.dumps(name).encode("utf-8") + b"," + encoded + b"]")
    return b"[" + b",".join(parts) + b"]"


class PartitionLineEncoder:
    """Encodes the records of one source partition to canonical lines, from precomputed constant parts."""

    def __init__(
        self, source_topic: str, partition: int, replay_topic: str, sort_middle: bytes | None = None
    ) -> None:
        topic = _json_str(source_topic)
        event_prefix = _json_str(f"{source_topic}:{partition}:")[:-1]  # open string, offset follows
        replay = _json_str(replay_topic)
        # Fast template: key and value present, no headers (the overwhelming majority of records).
        # Arguments: offset, key_b64, offset, timestamp, value_b64.
        self.fast = (
            b'{"dataset_event_id":'
            + event_prefix
            + b'%d","headers":[],"key_b64":"%s","replay_topic":'
            + replay
            + b',"source_offset":%d,"source_partition":'
            + str(partition).encode()
            + b',"source_timestamp_ms":%d,"source_topic":'
            + topic
            + b',"value_b64":"%s"}'
        )
        # General template; arguments: offset, headers JSON, key JSON, offset, timestamp, value JSON.
        self.general = (
            b'{"dataset_event_id":'
            + event_prefix
            + b'%d","headers":%s,"key_b64":%s,"replay_topic":'
            + replay
            + b',"source_offset":%d,"source_partition":'
            + str(partition).encode()
            + b',"source_timestamp_ms":%d,"source_topic":'
            + topic
            + b',"value_b64":%s}'
        )
        # Sorted variants lead with the merge prefix (timestamp, constant topic/partition part, offset),
        # ready to be sorted and merged as they are. Arguments: timestamp, offset, then as `fast`.
        middle = sort_middle if sort_middle is not None else b""
        self.middle = middle
        self.sorted_fast = b"%016d" + middle + b"%019d" + self.fast

    def encode(
        self,
        offset: int,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes | None]] | None,
    ) -> bytes:
        """The canonical line of one record (no newline)."""
        if key is not None and value is not None and not headers:
            return self.fast % (
                offset,
                b64encode(key),
                offset,
                timestamp_ms,
                b64encode(value),
            )
        return self.general % (
            offset,
            encode_headers(headers),
            b"null" if key is None else b'"' + b64encode(key) + b'"',
            offset,
            timestamp_ms,
            b"null" if value is None else b'"' + b64encode(value) + b'"',
        )

    def encode_sorted(
        self,
        offset: int,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes | None]] | None,
    ) -> bytes:
        """The line of one record led by its merge sort prefix (no newline)."""
        return b"%016d%s%019d%s" % (
            timestamp_ms,
            self.middle,
            offset,
            self.encode(offset, timestamp_ms, key, value, headers),
        )
