"""The dataset manifest model: real manifests load unchanged, defaults, unknown keys, refusals."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from torghut_sim.manifest import (
    DatasetManifest,
    ManifestError,
    dump_manifest,
    load_manifest,
    parse_manifest,
)

MANIFESTS = Path(__file__).resolve().parents[2].parent / "shared" / "upstream-fixtures" / "manifests"
FIXTURES = sorted(MANIFESTS.glob("*.yaml"))


def _minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "dataset_id": "torghut-trades-20260306",
        "window": {"start": "2026-03-06T14:30:00Z", "end": "2026-03-06T15:00:00Z"},
        "kafka": {"bootstrap_servers": "127.0.0.1:59092"},
        "clickhouse": {"http_url": "http://127.0.0.1:58123"},
        "postgres": {
            "admin_dsn": "postgresql://postgres@127.0.0.1:55432/postgres",
            "simulation_dsn_template": "postgresql://postgres@127.0.0.1:55432/{db}",
        },
    }
    data.update(overrides)
    return data


def test_there_are_fixture_manifests() -> None:
    assert len(FIXTURES) >= 3


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_loads_unchanged_without_warnings(path: Path) -> None:
    before = path.read_bytes()
    manifest = load_manifest(path)
    assert path.read_bytes() == before
    assert manifest.warnings == []
    raw = yaml.safe_load(before)
    # Unknown top-level sections are preserved verbatim.
    for key in set(raw) - set(DatasetManifest.model_fields):
        assert manifest.extra_sections[key] == raw[key]
    assert manifest.dataset_id == raw["dataset_id"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_round_trips_through_yaml(path: Path, tmp_path: Path) -> None:
    manifest = load_manifest(path)
    again = load_manifest(dump_manifest(manifest, tmp_path / "m.yaml"))
    assert again == manifest
    assert again.extra_sections == manifest.extra_sections
    # Every value written in the original is still there after a round trip.
    raw = yaml.safe_load(path.read_text())
    data = again.to_data()
    for section, value in raw.items():
        if isinstance(value, dict):
            for key, item in value.items():
                kept = data[section][key]
                assert kept == item or str(kept) == str(item), f"{section}.{key}"


def test_full_day_fixture_values() -> None:
    m = load_manifest(MANIFESTS / "full-day-2026-03-06.yaml")
    assert m.window.profile == "us_equities_regular"
    assert m.window.trading_day == date(2026, 3, 6)
    assert m.window.min_coverage_minutes == 390
    assert m.kafka.default_partitions == 8
    assert m.reporting.commission_bps == Decimal("0")
    assert isinstance(m.reporting.per_trade_fee, Decimal)
    assert m.extra_sections["ta_restore"] == {"mode": "required"}
    assert m.postgres.simulation_database("unused") == "torghut_sim_sim_2026_03_06_full_day"


def test_json_manifest_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_minimal()))
    assert load_manifest(path).dataset_id == "torghut-trades-20260306"


def test_defaults() -> None:
    m = parse_manifest(_minimal())
    assert m.kafka.security_protocol == "PLAINTEXT"
    assert m.kafka.default_partitions == 6
    assert m.kafka.replication_factor == 1
    assert m.kafka.runtime_bootstrap_servers == "127.0.0.1:59092"
    assert m.window.trading_day == date(2026, 3, 6)
    assert m.window.strict_coverage_ratio == 0.95
    assert m.window.min_coverage_minutes == 30  # no profile: the window length
    assert (m.replay.pace_mode, m.replay.acceleration, m.replay.max_sleep_seconds) == (
        "max_throughput",
        60,
        5,
    )
    assert (m.monitor.min_trade_decisions, m.monitor.min_executions) == (1, 1)
    assert (m.monitor.min_execution_tca_metrics, m.monitor.min_execution_order_events) == (1, 0)
    assert m.argocd.applicationset_name == "product"
    assert m.argocd.applicationset_namespace == "argocd"
    assert m.argocd.app_name == "torghut"
    assert m.argocd.desired_mode_during_run == "manual"
    assert m.argocd.restore_mode_after_run == "previous"
    assert m.argocd.verify_timeout_seconds == 600
    assert m.runtime.namespace == "torghut"
    assert m.runtime.target_mode == "dedicated_service"
    assert m.reporting.commission_bps == Decimal(0)
    assert m.postgres.runtime_simulation_dsn_template == "postgresql://postgres@127.0.0.1:55432/{db}"


def test_runtime_twins_keep_explicit_values() -> None:
    m = parse_manifest(
        _minimal(
            kafka={
                "bootstrap_servers": "a:9092",
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": "u",
                "sasl_password_env": "PW",
                "runtime_bootstrap_servers": "b:9092",
            }
        )
    )
    assert m.kafka.runtime_bootstrap_servers == "b:9092"
    assert m.kafka.runtime_sasl_password_env == "PW"
    assert m.kafka.runtime_security_protocol == "SASL_PLAINTEXT"


@pytest.mark.parametrize(
    ("day", "start", "end", "minutes"),
    [
        ("2026-03-09", "2026-03-09T13:30:00Z", "2026-03-09T20:00:00Z", 390),
        ("2026-11-27", "2026-11-27T14:30:00Z", "2026-11-27T18:00:00Z", 210),
    ],
)
def test_full_day_min_coverage_defaults_to_session_length(
    day: str, start: str, end: str, minutes: int
) -> None:
    window = {"profile": "us_equities_regular", "trading_day": day, "start": start, "end": end}
    assert parse_manifest(_minimal(window=window)).window.min_coverage_minutes == minutes


def test_reporting_is_decimal() -> None:
    m = parse_manifest(_minimal(reporting={"commission_bps": "1.5", "per_trade_fee": 0.35}))
    assert m.reporting.commission_bps == Decimal("1.5")
    assert m.reporting.per_trade_fee == Decimal("0.35")
    assert m.to_data()["reporting"] == {"commission_bps": "1.5", "per_trade_fee": "0.35"}


def test_unknown_keys_in_sections_are_warned_and_kept() -> None:
    data = _minimal(replay={"pace_mod": "event_time"}, monitor={"timeout_seconds": 10, "polls": 3})
    m = parse_manifest(data)
    assert m.warnings == [
        "unknown key replay.pace_mod (kept, not interpreted)",
        "unknown key monitor.polls (kept, not interpreted)",
    ]
    assert m.replay.pace_mode == "max_throughput"
    assert m.to_data()["replay"]["pace_mod"] == "event_time"


def test_unknown_top_level_sections() -> None:
    m = parse_manifest(_minimal(autonomy={"enabled": True}, rollouts={"enabled": False}, mystery=[1, 2]))
    assert m.extra_sections == {
        "autonomy": {"enabled": True},
        "rollouts": {"enabled": False},
        "mystery": [1, 2],
    }
    assert m.warnings == ["unknown top-level section mystery (kept, not interpreted)"]
    assert m.to_data()["mystery"] == [1, 2]


def test_env_overrides_become_strings() -> None:
    m = parse_manifest(
        _minimal(
            torghut_env_overrides={
                "TRADING_FEATURE_QUALITY_ENABLED": True,
                "TRADING_SIGNAL_LOOKBACK_MINUTES": 30,
            }
        )
    )
    assert m.torghut_env_overrides == {
        "TRADING_FEATURE_QUALITY_ENABLED": "true",
        "TRADING_SIGNAL_LOOKBACK_MINUTES": "30",
    }


@pytest.mark.parametrize(
    "data",
    [
        _minimal(clickhouse={"http_url": "http://h:8123", "password": "hunter2"}),
        _minimal(kafka={"bootstrap_servers": "k:9092", "sasl_password": "hunter2"}),
        _minimal(
            postgres={
                "admin_dsn": "postgresql://u:hunter2@h/postgres",
                "simulation_dsn_template": "postgresql://u@h/{db}",
            }
        ),
    ],
)
def test_inline_secrets_are_refused_without_echoing_them(data: dict[str, Any]) -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(data)
    assert err.value.reason == "inline_secret"
    assert "hunter2" not in str(err.value)


def test_empty_password_placeholder_is_accepted() -> None:
    assert (
        parse_manifest(_minimal(clickhouse={"http_url": "http://h:8123", "password": ""})).clickhouse.password
        == ""
    )


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({k: v for k, v in _minimal().items() if k != "kafka"}, "kafka"),
        (_minimal(window={"start": "2026-03-06T14:30:00", "end": "2026-03-06T15:00:00Z"}), "time zone"),
        (_minimal(postgres={"simulation_dsn_template": "postgresql://u@h/{db}"}), "admin_dsn"),
        (
            _minimal(
                postgres={"admin_dsn": "postgresql://u@h/p", "simulation_dsn_template": "postgresql://u@h/x"}
            ),
            "{db}",
        ),
        (_minimal(replay={"pace_mode": "warp"}), "replay.pace_mode"),
        (_minimal(reporting={"commission_bps": "-1"}), "reporting.commission_bps"),
        (
            _minimal(
                window={
                    "start": "2026-03-06T14:30:00Z",
                    "end": "2026-03-06T15:00:00Z",
                    "timezone": "Mars/Base",
                }
            ),
            "Mars/Base",
        ),
    ],
)
def test_invalid_manifests(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(data)
    assert err.value.reason == "invalid_manifest"
    assert fragment in err.value.message
    assert "\n" not in err.value.message


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as err:
        load_manifest(tmp_path / "nope.yaml")
    assert err.value.reason == "manifest_not_found"
    bad = tmp_path / "bad.yaml"
    bad.write_text("window: [unclosed\n")
    with pytest.raises(ManifestError) as err:
        load_manifest(bad)
    assert err.value.reason == "manifest_unreadable"
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ManifestError) as err:
        load_manifest(listy)
    assert err.value.reason == "invalid_manifest"


@pytest.mark.parametrize(
    ("extra", "reason", "named"),
    [
        ({"lane": "options"}, "unsupported_lane", "'options'"),
        (
            {"schema_version": "torghut.options-simulation-manifest.v1"},
            "unsupported_schema_version",
            "torghut.options-simulation-manifest.v1",
        ),
        # Both together (the probe of issue 15 #6): the lane is named first.
        (
            {"lane": "options", "schema_version": "torghut.options-simulation-manifest.v1"},
            "unsupported_lane",
            "'options'",
        ),
    ],
)
def test_a_lane_or_schema_this_product_does_not_simulate_is_refused(
    extra: dict[str, Any], reason: str, named: str
) -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(_minimal(**extra))
    assert err.value.reason == reason
    assert named in err.value.message


def test_the_equities_lane_and_own_schema_are_accepted() -> None:
    manifest = parse_manifest(_minimal(lane="equities", schema_version="torghut.simulation-manifest.v1"))
    assert manifest.lane == "equities" and manifest.warnings == []
    assert manifest.to_data()["lane"] == "equities"
