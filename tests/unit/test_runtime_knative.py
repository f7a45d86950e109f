"""The simulation env: paper settings, allow-listed overrides, whole-list merge, readiness, redaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from torghut_sim.lifecycle import cursor_seed
from torghut_sim.runtime.knative import (
    FIXED_ENV,
    OverrideNotAllowedError,
    SimulationEnvInputs,
    UnsafeEnvError,
    check_paper_env,
    effective_env,
    merged_env_list,
    service_readiness,
    simulation_env,
)
from torghut_sim.runtime.redaction import redact_dsn, redact_env_list
from torghut_sim.runtime.run_secret import secret_values
from torghut_sim.stores.postgres_provision import CursorSeed

DSN = "postgresql://torghut:s3cret-pw@pg.example:5432/torghut_sim_sim_20260306_01"


def _inputs(**overrides: str) -> SimulationEnvInputs:
    return SimulationEnvInputs(
        run_id="sim-20260306-01",
        run_token="sim_20260306_01",
        dataset_id="torghut-trades-20260306",
        db_dsn=DSN,
        simulation_database="torghut_sim_sim_20260306_01",
        window_start="2026-03-06T14:30:00Z",
        window_end="2026-03-06T21:00:00Z",
        overrides=overrides,
    )


def _baseline_env(upstream_dir: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load((upstream_dir / "gitops" / "knative-service-torghut-sim.yaml").read_text())
    env: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def test_simulation_env_is_paper_and_run_scoped() -> None:
    env = simulation_env(_inputs(TRADING_FEATURE_QUALITY_ENABLED="true"))
    for key, value in FIXED_ENV.items():
        assert env[key] == value
    assert env["TRADING_SIGNAL_TABLE"] == "torghut_sim_sim_20260306_01.ta_signals"
    assert env["TRADING_PRICE_TABLE"] == "torghut_sim_sim_20260306_01.ta_microbars"
    assert env["TRADING_ORDER_FEED_TOPIC"] == "torghut.sim.trade-updates.v1.sim_20260306_01"
    assert env["TRADING_ORDER_FEED_GROUP_ID"] == "torghut-order-feed-sim-sim_20260306_01"
    assert env["TRADING_FEATURE_QUALITY_ENABLED"] == "true"


@pytest.mark.parametrize("key", ["TRADING_MODE", "TRADING_LIVE_ENABLED", "DB_DSN", "SOMETHING_ELSE"])
def test_overrides_outside_the_allow_list_are_refused(key: str) -> None:
    with pytest.raises(OverrideNotAllowedError) as refused:
        simulation_env(_inputs(**{key: "live"}))
    assert refused.value.reason == "env_override_not_allowed"


def test_non_paper_env_is_refused() -> None:
    env = simulation_env(_inputs())
    with pytest.raises(UnsafeEnvError) as live:
        check_paper_env({**env, "TRADING_LIVE_ENABLED": "true"})
    assert live.value.reason == "unsafe_runtime_env"
    with pytest.raises(UnsafeEnvError):
        check_paper_env({k: v for k, v in env.items() if k != "TRADING_SIMULATION_RUN_ID"})


def test_merge_keeps_baseline_order_and_replaces_whole_entries(upstream_dir: Path) -> None:
    baseline = _baseline_env(upstream_dir)
    env = simulation_env(_inputs())
    merged = merged_env_list(baseline, env)
    names = [e["name"] for e in merged]
    baseline_names = [e["name"] for e in baseline]
    # Every baseline variable keeps its slot; run keys not in the baseline are appended once, in order.
    assert len(baseline_names) == len(set(baseline_names))
    assert names[: len(baseline_names)] == baseline_names
    assert names[len(baseline_names) :] == [k for k in env if k not in baseline_names]
    dsn_index = baseline_names.index("DB_DSN")
    assert merged[dsn_index] == {"name": "DB_DSN", "value": DSN}
    effective = effective_env(merged)
    for key, value in env.items():
        assert effective[key] == value
    # Untouched baseline entries stay byte-identical, valueFrom included.
    untouched = [e for e in baseline if e["name"] not in env]
    assert all(e in merged for e in untouched)


def test_merge_refuses_a_baseline_that_would_stay_live() -> None:
    baseline = [{"name": "TRADING_MODE", "value": "live"}]
    with pytest.raises(UnsafeEnvError):
        merged_env_list(baseline, {"TRADING_MODE": "live"})


def test_redaction_never_records_the_dsn_password(upstream_dir: Path) -> None:
    assert redact_dsn(DSN) == "postgresql://torghut:***@pg.example:5432/torghut_sim_sim_20260306_01"
    recorded = redact_env_list(merged_env_list(_baseline_env(upstream_dir), simulation_env(_inputs())))
    text = repr(recorded)
    assert "s3cret-pw" not in text
    assert {
        "name": "DB_DSN",
        "value": "postgresql://torghut:***@pg.example:5432/torghut_sim_sim_20260306_01",
    } in recorded


def _service(env: list[dict[str, Any]], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"generation": 3},
        "spec": {"template": {"spec": {"containers": [{"name": "user-container", "env": env}]}}},
        "status": status,
    }


READY = {
    "observedGeneration": 3,
    "conditions": [{"type": "Ready", "status": "True"}],
    "latestReadyRevisionName": "torghut-sim-00003",
    "latestCreatedRevisionName": "torghut-sim-00003",
}


def test_service_ready_only_for_the_run_env_and_current_revision() -> None:
    env = [{"name": "A", "value": "1"}]
    assert service_readiness(_service(env, **READY), env).ready
    assert not service_readiness(_service([{"name": "A", "value": "0"}], **READY), env).ready
    stale = {**READY, "observedGeneration": 2}
    assert "observedGeneration" in service_readiness(_service(env, **stale), env).reasons[0]
    rolling = {**READY, "latestCreatedRevisionName": "torghut-sim-00004"}
    assert not service_readiness(_service(env, **rolling), env).ready
    failing = {**READY, "conditions": [{"type": "Ready", "status": "False", "reason": "RevisionFailed"}]}
    verdict = service_readiness(_service(env, **failing), env)
    assert not verdict.ready and "RevisionFailed" in verdict.reasons[0]
    assert not service_readiness(_service(env, **READY), env, revision_env_list=[]).ready
    assert service_readiness(_service(env, **READY), env, revision_env_list=env).ready
    assert not service_readiness(None, env).ready


def test_cursor_is_seeded_under_the_label_the_runtime_trades_with(upstream_dir: Path) -> None:
    baseline = _baseline_env(upstream_dir)
    # The upstream runtime trades under its own label; the run keeps it unless a manifest overrides it.
    assert cursor_seed(merged_env_list(baseline, simulation_env(_inputs()))) == CursorSeed(
        "clickhouse", "TORGHUT_SIM"
    )
    overridden = merged_env_list(baseline, simulation_env(_inputs(TRADING_ACCOUNT_LABEL="SIM_B")))
    assert cursor_seed(overridden).account_label == "SIM_B"
    # No label (or one from a secret, which cannot be read here): the runtime's default.
    unlabelled = [e for e in baseline if e["name"] != "TRADING_ACCOUNT_LABEL"]
    assert cursor_seed(merged_env_list(unlabelled, simulation_env(_inputs()))).account_label == "paper"
    from_secret = [*unlabelled, {"name": "TRADING_ACCOUNT_LABEL", "valueFrom": {"secretKeyRef": {}}}]
    assert cursor_seed(merged_env_list(from_secret, simulation_env(_inputs()))).account_label == "paper"


def test_with_a_run_secret_the_dsn_is_a_secret_reference_never_a_value(upstream_dir: Path) -> None:
    baseline = _baseline_env(upstream_dir)
    env = simulation_env(_inputs())
    merged = merged_env_list(baseline, env, secret_name="torghut-sim-runtime-db")
    dsn = [e for e in merged if e["name"] == "DB_DSN"]
    assert dsn == [
        {"name": "DB_DSN", "valueFrom": {"secretKeyRef": {"name": "torghut-sim-runtime-db", "key": "DB_DSN"}}}
    ]
    # Same slot as the literal rendering; every other entry unchanged.
    plain = merged_env_list(baseline, env)
    assert [e["name"] for e in merged] == [e["name"] for e in plain]
    assert [e for e in merged if e["name"] != "DB_DSN"] == [e for e in plain if e["name"] != "DB_DSN"]
    assert "s3cret-pw" not in json.dumps(merged)
    assert secret_values(env) == {"DB_DSN": DSN}


def test_the_paper_guard_still_judges_the_dsn_passed_by_reference() -> None:
    env = {**simulation_env(_inputs()), "DB_DSN": ""}
    with pytest.raises(UnsafeEnvError):
        merged_env_list([], env, secret_name="torghut-sim-runtime-db")
