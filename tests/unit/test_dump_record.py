"""The dump line format: sorted keys, nulls, binary payloads, headers, and the fast encoder's fidelity."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torghut_sim.dump.errors import DumpFormatError
from torghut_sim.dump.record import LINE_KEYS, DumpRecord, PartitionLineEncoder


def _record(**changes: object) -> DumpRecord:
    base: dict[str, object] = {
        "source_topic": "torghut.trades.v1",
        "source_partition": 2,
        "source_offset": 41,
        "source_timestamp_ms": 1_772_807_400_000,
        "replay_topic": "torghut.sim.trades.v1.sim_20260306_01",
        "key": b"NVDA",
        "value": b'{"symbol":"NVDA"}',
        "headers": (),
    }
    base.update(changes)
    return DumpRecord(**base)  # type: ignore[arg-type]


def test_line_has_sorted_keys_compact_and_event_id() -> None:
    line = _record().to_line()
    obj = json.loads(line)
    assert list(obj) == sorted(obj) == list(LINE_KEYS)
    assert obj["dataset_event_id"] == "torghut.trades.v1:2:41"
    assert obj["key_b64"] == "TlZEQQ=="
    assert obj["headers"] == []
    assert b", " not in line and b": " not in line


def test_null_key_and_value_are_json_null() -> None:
    obj = json.loads(_record(key=None, value=None).to_line())
    assert obj["key_b64"] is None
    assert obj["value_b64"] is None


def test_binary_value_and_headers_round_trip() -> None:
    record = _record(value=bytes(range(256)), headers=(("trace", b"\x00\xff"), ("empty", None), ("é", b"")))
    line = record.to_line()
    assert json.loads(line)["headers"] == [["trace", "AP8="], ["empty", None], ["é", ""]]
    assert DumpRecord.from_line(line) == record


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"key": None},
        {"value": None},
        {"key": None, "value": None},
        {"value": b""},
        {"headers": (("h", b"v"), ("n", None))},
        {"source_topic": 'odd"topic%d\\name', "source_partition": 0},
    ],
)
def test_fast_encoder_is_byte_identical_to_canonical(changes: dict[str, object]) -> None:
    record = _record(**changes)
    encoder = PartitionLineEncoder(
        record.source_topic, record.source_partition, record.replay_topic, b"00010002"
    )
    headers = list(record.headers) or None
    line = encoder.encode(record.source_offset, record.source_timestamp_ms, record.key, record.value, headers)
    assert line == record.to_line()
    prefixed = encoder.encode_sorted(
        record.source_offset, record.source_timestamp_ms, record.key, record.value, headers
    )
    assert prefixed.endswith(line)
    assert prefixed.startswith(b"%016d00010002%019d" % (record.source_timestamp_ms, record.source_offset))


@given(
    key=st.none() | st.binary(max_size=40),
    value=st.none() | st.binary(max_size=300),
    headers=st.lists(st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=16)), max_size=3),
    offset=st.integers(0, 2**62),
    ts=st.integers(0, 2**45),
)
def test_encoder_matches_canonical_for_any_record(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes | None]], offset: int, ts: int
) -> None:
    record = _record(
        key=key, value=value, headers=tuple(headers), source_offset=offset, source_timestamp_ms=ts
    )
    encoder = PartitionLineEncoder(record.source_topic, record.source_partition, record.replay_topic)
    assert encoder.encode(offset, ts, key, value, headers or None) == record.to_line()
    assert DumpRecord.from_line(record.to_line()) == record


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1,2]",
        b'{"source_topic":"t"}',
        b'{"source_topic":"t","source_partition":0,"source_offset":1,"source_timestamp_ms":2,"key_b64":"%%%"}',
    ],
)
def test_invalid_lines_are_refused(line: bytes) -> None:
    with pytest.raises(DumpFormatError) as info:
        DumpRecord.from_line(line)
    assert info.value.reason == "dump_line_invalid"
