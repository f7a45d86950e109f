"""The Python side of the native replay: engine choice, the job, result and error mapping (fake engine)."""

from __future__ import annotations

import json
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from torghut_sim.dump.io import DumpFormatUnknownError
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.engine import ENGINE_ENV, ENGINE_VERSION
from torghut_sim.kafka.progress import Progress
from torghut_sim.replay.errors import ReplayError
from torghut_sim.replay.native import choose_engine, produce_native, replay_job
from torghut_sim.replay.pacing import PaceMode, PaceSettings
from torghut_sim.replay.replayer import replay_dump
from torghut_sim.replay.request import ReplayRequest, ReplayTuning

ENGINE_SRC = Path(__file__).resolve().parents[2] / "native" / "kafka-engine"
TOPIC_MAP = {"src.trades": "torghut.sim.trades.v1.run_x", "src.quotes": "torghut.sim.quotes.v1.run_x"}
PARTITIONS = {"torghut.sim.trades.v1.run_x": 3, "torghut.sim.quotes.v1.run_x": 1, "unrelated": 9}
DIGEST = "ab" * 32

FakeEngine = Callable[[str], Path]


@pytest.fixture
def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """Installs an executable that answers `version`, saves its argv and job, then runs `body`."""

    def install(body: str) -> Path:
        path = tmp_path / f"fake-engine-{len(list(tmp_path.glob('fake-engine-*')))}"
        path.write_text(
            f"#!{sys.executable}\n"
            "import json, sys\n"
            "if sys.argv[1] == 'version':\n"
            f"    print({ENGINE_VERSION!r})\n"
            "    sys.exit(0)\n"
            "job = json.load(sys.stdin)\n"
            f"seen = open({str(tmp_path / 'seen.json')!r}, 'w')\n"
            "seen.write(json.dumps({'argv': sys.argv, 'job': job}))\n"
            "seen.close()\n"
            "def emit(**event):\n"
            "    print(json.dumps(event), flush=True)\n" + body
        )
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        monkeypatch.setenv(ENGINE_ENV, str(path))
        return path

    return install


def _request(tmp_path: Path, name: str = "d.jsonl.zst", **kwargs: Any) -> ReplayRequest:
    dump = tmp_path / name
    dump.write_bytes(b"")
    return ReplayRequest(
        dump_path=dump,
        run_token="run_x",
        marker_path=tmp_path / "replay-marker.json",
        source_topics={"trades": "src.trades", "quotes": "src.quotes"},
        **kwargs,
    )


def _seen(tmp_path: Path) -> dict[str, Any]:
    seen: dict[str, Any] = json.loads((tmp_path / "seen.json").read_text())
    return seen


SASL = KafkaConnection("b1:9092, b2:9093", "SASL_SSL", "SCRAM-SHA-512", "alice", "s3cret")


def test_the_job_carries_the_dump_the_targets_and_the_producer_settings(tmp_path: Path) -> None:
    tuning = ReplayTuning(linger_ms=7, batch_size=123, queue_max_kbytes=2, flush_timeout_seconds=1.5)
    job = replay_job(SASL, _request(tmp_path, expected_records=42), TOPIC_MAP, PARTITIONS, tuning)
    assert job["brokers"] == ["b1:9092", "b2:9093"]
    assert (job["security_protocol"], job["sasl_mechanism"], job["sasl_username"]) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "alice",
    )
    assert job["sasl_password"] == "s3cret"
    assert job["dump_path"] == str((tmp_path / "d.jsonl.zst").resolve())
    assert job["topic_map"] == TOPIC_MAP
    assert job["partitions"] == {"torghut.sim.trades.v1.run_x": 3, "torghut.sim.quotes.v1.run_x": 1}
    assert job["expected_records"] == 42
    assert (job["linger_ms"], job["batch_max_bytes"], job["max_buffered_bytes"]) == (7, 123, 2048)
    assert job["compression"] == "lz4"
    assert job["flush_timeout_ms"] == 1500 * tuning.flush_attempts
    assert job["connect_timeout_ms"] == 15_000


def test_the_job_has_exactly_the_fields_the_engine_decodes(tmp_path: Path) -> None:
    # The engine refuses unknown fields; a field it does not know about would be silently unused.
    source = (ENGINE_SRC / "replay.go").read_text() + (ENGINE_SRC / "common.go").read_text()
    structs = re.findall(r"type (?:replayJob|Connection) struct \{(.*?)\n\}", source, re.S)
    assert len(structs) == 2
    fields = {name for body in structs for name in re.findall(r'json:"(\w+)"', body)}
    job = replay_job(SASL, _request(tmp_path), TOPIC_MAP, PARTITIONS, ReplayTuning())
    assert set(job) == fields


def test_paced_replays_and_the_python_choice_never_use_the_engine(
    tmp_path: Path, fake_engine: FakeEngine
) -> None:
    engine = fake_engine("emit(event='result')\n")
    modes: tuple[PaceMode, ...] = ("event_time", "accelerated")
    for mode in modes:
        paced = _request(tmp_path, pace=PaceSettings(mode=mode))
        assert choose_engine(paced, ReplayTuning(engine="native")) is None
    assert choose_engine(_request(tmp_path), ReplayTuning(engine="python")) is None
    assert choose_engine(_request(tmp_path), ReplayTuning(engine="auto")) == engine
    assert choose_engine(_request(tmp_path), ReplayTuning(engine="native")) == engine


def test_producer_overrides_need_the_python_replay(tmp_path: Path, fake_engine: FakeEngine) -> None:
    fake_engine("emit(event='result')\n")
    overrides = {"linger.ms": 1}
    assert choose_engine(_request(tmp_path), ReplayTuning(producer_overrides=overrides)) is None
    with pytest.raises(ReplayError) as info:
        choose_engine(_request(tmp_path), ReplayTuning(engine="native", producer_overrides=overrides))
    assert info.value.reason == "replay_engine_unsupported"


def test_an_insisted_engine_that_is_missing_fails_before_kafka_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENGINE_ENV, str(tmp_path / "no-such-engine"))
    dead = KafkaConnection("127.0.0.1:1")
    with pytest.raises(ReplayError) as info:
        replay_dump(dead, _request(tmp_path), tuning=ReplayTuning(engine="native"))
    assert info.value.reason == "engine_missing"


def test_the_result_and_progress_come_back_as_the_python_path_returns_them(
    tmp_path: Path, fake_engine: FakeEngine
) -> None:
    engine = fake_engine(
        "emit(event='progress', phase='replay', done=2, total=5)\n"
        f"emit(event='result', payload_sha256={DIGEST!r}, records=5,"
        " records_by_topic={'torghut.sim.trades.v1.run_x': 5, 'torghut.sim.quotes.v1.run_x': 0})\n"
    )
    reports: list[Progress] = []
    request = _request(tmp_path, expected_records=5)
    digest, counts = produce_native(
        engine, SASL, request, TOPIC_MAP, PARTITIONS, ReplayTuning(), reports.append
    )
    assert digest == DIGEST
    assert counts == {"torghut.sim.trades.v1.run_x": 5, "torghut.sim.quotes.v1.run_x": 0}
    assert [(p.phase, p.records, p.total, p.done) for p in reports] == [
        ("replay", 2, 5, False),
        ("replay", 5, 5, True),
    ]
    seen = _seen(tmp_path)
    # The password travels in the stdin job only, never on the command line.
    assert seen["argv"][1:] == ["replay"] and "s3cret" not in json.dumps(seen["argv"])
    assert seen["job"]["sasl_password"] == "s3cret"


@pytest.mark.parametrize(
    ("body", "reason", "text"),
    [
        (
            "emit(event='error', reason='replay_dump_invalid', message='d.jsonl.zst line 3 is bad')\n"
            "sys.exit(1)\n",
            "replay_dump_invalid",
            "line 3",
        ),
        (
            "emit(event='error', reason='replay_unknown_topic', message='dump record from x')\nsys.exit(1)\n",
            "replay_unknown_topic",
            "from x",
        ),
        ("sys.stderr.write('panic: boom\\n')\nsys.exit(2)\n", "engine_failed", "boom"),
        ("emit(event='result', records=1)\n", "engine_failed", "malformed"),
        (
            f"emit(event='result', payload_sha256={DIGEST!r}, records=2,"
            " records_by_topic={'torghut.sim.trades.v1.run_x': 1})\n",
            "engine_failed",
            "does not add up",
        ),
        (
            f"emit(event='result', payload_sha256={DIGEST!r}, records=1, records_by_topic={{'other': 1}})\n",
            "engine_failed",
            "does not add up",
        ),
    ],
    ids=["invalid-line", "unknown-topic", "crash", "malformed-result", "wrong-sum", "foreign-topic"],
)
def test_engine_failures_become_replay_errors_with_their_reason(
    tmp_path: Path, fake_engine: FakeEngine, body: str, reason: str, text: str
) -> None:
    engine = fake_engine(body)
    with pytest.raises(ReplayError) as info:
        produce_native(engine, SASL, _request(tmp_path), TOPIC_MAP, PARTITIONS, ReplayTuning(), None)
    assert info.value.reason == reason
    assert text in str(info.value)


def test_an_unknown_dump_suffix_fails_as_in_the_python_path(tmp_path: Path, fake_engine: FakeEngine) -> None:
    engine = fake_engine("emit(event='result')\n")
    with pytest.raises(DumpFormatUnknownError):
        produce_native(engine, SASL, _request(tmp_path, "d.csv"), TOPIC_MAP, PARTITIONS, ReplayTuning(), None)
    assert not (tmp_path / "seen.json").exists()
