"""The market-day generator: deterministic records in the contract's envelope, with the knobs it offers."""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from datetime import date, time
from pathlib import Path

import orjson
import pytest

from torghut_sim.calendar import session_window
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.market_day import PRODUCTION_SOURCE_TOPICS, SeedRequest, seed_day
from torghut_sim.devstack.market_walk import LIVE_SYMBOLS, DaySpec, Gap, generate, iso_ms
from torghut_sim.devstack.seed_cli import register, spec_from_args

DAY = date(2026, 3, 6)
SMALL = DaySpec(DAY, symbols=("NVDA", "AMD"), trade_rate=0.05, malformed=4)


def _records(spec: DaySpec) -> list:
    return list(generate(spec, session_window(spec.day)))


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def test_same_arguments_give_byte_identical_records_and_another_seed_does_not() -> None:
    first, again = _records(SMALL), _records(SMALL)
    assert [(r.role, r.key, r.value, r.timestamp_ms) for r in first] == [
        (r.role, r.key, r.value, r.timestamp_ms) for r in again
    ]
    other = _records(DaySpec(DAY, symbols=("NVDA", "AMD"), trade_rate=0.05, malformed=4, seed=1))
    assert [r.value for r in other] != [r.value for r in first]


def test_envelope_and_payloads_follow_the_contract() -> None:
    seen = set()
    for record in _records(DaySpec(DAY, symbols=("NVDA",), trade_rate=0.05, malformed=0, edges=False)):
        doc = orjson.loads(record.value)
        assert set(doc) == {
            "ingest_ts",
            "event_ts",
            "feed",
            "channel",
            "symbol",
            "seq",
            "is_final",
            "source",
            "window",
            "payload",
            "version",
        }
        assert (doc["feed"], doc["source"], doc["version"]) == ("iex", "ws", 1)
        assert set(doc["window"]) == {"size", "step", "start", "end"}
        expected = {
            "trades": {"i", "p", "s", "t"},
            "quotes": {"bp", "bs", "ap", "as", "t"},
            "bars": {"o", "h", "l", "c", "v", "t", "is_final"},
        }.get(record.role)
        if expected is not None:
            assert set(doc["payload"]) == expected
            assert record.key == b"NVDA"
        seen.add(record.role)
    assert seen == {"trades", "quotes", "bars", "status"}


def test_default_day_is_about_two_hundred_thousand_records_across_the_live_universe() -> None:
    spec = DaySpec(DAY)
    assert spec.symbols == LIVE_SYMBOLS and len(LIVE_SYMBOLS) == 10
    # A tenth of the session scaled up keeps the test quick while checking the default size.
    counts = Counter(r.role for r in itertools.islice(generate(spec, session_window(DAY)), 30_000))
    assert counts["trades"] > counts["quotes"] > counts["status"] > 0


def test_edges_sit_just_outside_the_session_and_everything_else_inside() -> None:
    window = session_window(DAY)
    start, end = _ms(window.session_start), _ms(window.session_end)
    records = _records(DaySpec(DAY, symbols=("NVDA",), trade_rate=0.05, disorder=False, malformed=0))
    outside = sorted(
        r.timestamp_ms - (start if r.timestamp_ms < start else end)
        for r in records
        if not start <= r.timestamp_ms < end
    )
    # Bars and quotes near the close may also land after it (publication latency), but never before open.
    assert [d for d in outside if d < 0] == [-3, -1]
    assert 0 in outside and 2 in outside
    without = _records(
        DaySpec(DAY, symbols=("NVDA",), trade_rate=0.05, disorder=False, malformed=0, edges=False)
    )
    assert all(r.timestamp_ms >= start for r in without)


def test_an_early_close_day_ends_at_one_pm_new_york() -> None:
    day = date(2025, 11, 28)
    window = session_window(day)
    assert window.early_close
    records = _records(
        DaySpec(day, symbols=("MU",), trade_rate=0.05, edges=False, malformed=0, disorder=False)
    )
    assert max(r.timestamp_ms for r in records) <= _ms(window.session_end) + 1
    assert max(r.timestamp_ms for r in records) > _ms(window.session_end) - 60_000


def test_a_quiet_gap_has_no_market_records() -> None:
    window = session_window(DAY)
    gap_start = _ms(window.session_start) + 90 * 60_000  # 11:00 New York
    records = _records(
        DaySpec(
            DAY,
            symbols=("NVDA", "AMD"),
            trade_rate=0.2,
            malformed=0,
            edges=False,
            gaps=(Gap(time(11, 0), 20),),
        )
    )
    gap_end = gap_start + 20 * 60_000
    inside = [r for r in records if gap_start <= r.timestamp_ms < gap_end and r.role != "status"]
    assert inside == []
    assert any(gap_start - 60_000 <= r.timestamp_ms < gap_start for r in records if r.role == "trades")
    assert Gap.parse("12:30/15") == Gap(time(12, 30), 15)


def test_timestamps_go_backwards_within_a_partition_only_with_disorder() -> None:
    def backwards(spec: DaySpec) -> int:
        last: dict[bytes, int] = {}
        count = 0
        for r in _records(spec):
            if r.role == "trades":
                count += r.timestamp_ms < last.get(r.key, 0)
                last[r.key] = max(last.get(r.key, 0), r.timestamp_ms)
        return count

    base = dict(day=DAY, symbols=("NVDA", "AMD"), trade_rate=0.3, malformed=0, edges=False)
    assert backwards(DaySpec(**base, disorder=True)) > 0
    assert backwards(DaySpec(**base, disorder=False)) == 0


def test_malformed_values_are_few_and_really_malformed() -> None:
    bad = 0
    for record in _records(SMALL):
        try:
            doc = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            bad += 1
            continue
        payload = doc.get("payload")
        if payload is None or payload.get("p") == "NaN":
            bad += 1
    assert bad == 4


def test_iso_ms_formats_utc_milliseconds() -> None:
    assert iso_ms(1_772_807_400_007) == "2026-03-06T14:30:00.007Z"


def test_a_holiday_produces_nothing_and_says_so(tmp_path: Path) -> None:
    request = SeedRequest(DaySpec(date(2025, 12, 25)), "127.0.0.1:1", tmp_path)
    result = seed_day(request)
    assert result.status == "not_a_trading_day" and result.records == 0
    assert "not an NYSE trading day" in result.message


def test_a_marker_with_other_arguments_refuses_without_contacting_kafka(tmp_path: Path) -> None:
    request = SeedRequest(SMALL, "127.0.0.1:1", tmp_path)
    request.marker_path.parent.mkdir(parents=True, exist_ok=True)
    request.marker_path.write_text(orjson.dumps({"spec": {"other": 1}, "records": 3}).decode())
    with pytest.raises(DevstackError) as refused:
        seed_day(request)
    assert refused.value.reason == "day_already_seeded"
    request.marker_path.write_text(orjson.dumps({"spec": SMALL.as_dict(), "records": 3}).decode())
    again = seed_day(request)
    assert again.status == "already_seeded" and again.records == 3


def test_markers_are_per_target_topics(tmp_path: Path) -> None:
    a = SeedRequest(SMALL, "127.0.0.1:1", tmp_path)
    b = SeedRequest(SMALL, "127.0.0.1:1", tmp_path, topics={**PRODUCTION_SOURCE_TOPICS, "trades": "x"})
    assert a.marker_path != b.marker_path
    assert a.topics == {
        "trades": "torghut.trades.v1",
        "quotes": "torghut.quotes.v1",
        "bars": "torghut.bars.1m.v1",
        "status": "torghut.status.v1",
    }


def test_cli_arguments_build_the_spec() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "seed-day",
            "2026-03-06",
            "--symbols",
            "3",
            "--scale",
            "full",
            "--gaps",
            "11:00/10,14:00/5",
            "--seed",
            "9",
            "--no-edges",
            "--malformed",
            "0",
        ]
    )
    spec = spec_from_args(args)
    assert spec.symbols == ("NVDA", "AVGO", "AMD") and spec.trade_rate == 8.0 and spec.seed == 9
    assert spec.gaps == (Gap(time(11, 0), 10), Gap(time(14, 0), 5)) and not spec.edges and spec.malformed == 0
