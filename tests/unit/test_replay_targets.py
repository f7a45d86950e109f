"""Replay target safety and the connection settings handed to the Kafka clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from torghut_sim.kafka.connection import KafkaConnection, KafkaConnectionError
from torghut_sim.replay.errors import ReplayTargetRefusedError
from torghut_sim.replay.request import ReplayRequest
from torghut_sim.replay.topics import check_replay_target


@pytest.mark.parametrize(
    "topic", ["torghut.trades.v1", "torghut.ta.signals.v1", "my.source", "torghut.trades.v1.x"]
)
def test_source_production_and_unprefixed_targets_are_refused(topic: str) -> None:
    with pytest.raises(ReplayTargetRefusedError) as info:
        check_replay_target(topic, source_topics={"my.source"})
    assert info.value.reason == "replay_target_forbidden"


def test_simulation_target_is_accepted() -> None:
    check_replay_target("torghut.sim.trades.v1.sim_20260306_01", source_topics={"torghut.trades.v1"})


def test_topic_map_follows_roles_and_run_token() -> None:
    request = ReplayRequest(
        dump_path=Path("d.jsonl.zst"), run_token="sim_20260306_01", marker_path=Path("m.json")
    )
    assert request.topic_map() == {
        "torghut.trades.v1": "torghut.sim.trades.v1.sim_20260306_01",
        "torghut.quotes.v1": "torghut.sim.quotes.v1.sim_20260306_01",
        "torghut.bars.1m.v1": "torghut.sim.bars.1m.v1.sim_20260306_01",
        "torghut.status.v1": "torghut.sim.status.v1.sim_20260306_01",
    }


def test_sasl_config_and_secret_hidden() -> None:
    conn = KafkaConnection("k:9092", "SASL_PLAINTEXT", "SCRAM-SHA-512", "torghut-ws", "s3cret")
    config = conn.client_config(**{"acks": "all"})
    assert config["sasl.password"] == "s3cret"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["acks"] == "all"
    assert "s3cret" not in repr(conn)
    assert "s3cret" not in conn.describe()


def test_plaintext_config_has_no_sasl() -> None:
    assert "sasl.username" not in KafkaConnection("k:9092").client_config()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bootstrap_servers": " "},
        {"bootstrap_servers": "k", "security_protocol": "TLS"},
        {"bootstrap_servers": "k", "security_protocol": "SASL_SSL"},
    ],
)
def test_invalid_connections_are_refused(kwargs: dict[str, str]) -> None:
    with pytest.raises(KafkaConnectionError):
        KafkaConnection(**kwargs)


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize(
    "body",
    [
        b'{"a":1}\n{"b":2}\n',
        b'{"a":1}\n{"b":2}',  # no final newline
        b'  {"a":1}  \r\n\n{"b":2}\r\n\n',  # padding, CRLF, blank lines
        b'{"a":1} \n{"b":2}\n',  # one padded line end: not canonical
        b'{"a":1}\n\t{"b":2}\n',  # one padded line start
        b'{"a":1}\n\n{"b":2}\n',  # one blank line
        b'{"a":1}\r\n',
        b"",
    ],
)
def test_replay_line_blocks_hash_like_the_dump_payload(
    body: bytes, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import io

    from torghut_sim.replay import produce

    monkeypatch.setattr(produce, "_READ_BLOCK", block)
    digest = hashlib.sha256()
    lines = [line for chunk in produce.hashed_line_blocks(io.BytesIO(body), digest) for line in chunk]
    stripped = [line.strip() for line in body.splitlines() if line.strip()]
    assert lines == stripped
    assert digest.hexdigest() == hashlib.sha256(b"".join(line + b"\n" for line in stripped)).hexdigest()
