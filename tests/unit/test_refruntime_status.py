"""Knative and Flink status as the reference runtime writes it, and the env/ConfigMap it accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from torghut_sim.devstack.refruntime.settings import (
    RuntimeConfigError,
    TaSettings,
    TorghutSettings,
    container_env,
    simulation_enabled,
)
from torghut_sim.devstack.refruntime.status import (
    Verdict,
    flink_spec_key,
    flink_status,
    knative_status,
    knative_status_changed,
)
from torghut_sim.guards.runtime import PAPER_ONLY_ENV

NOW = "2026-03-06T21:00:00Z"


def _load(upstream_dir: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((upstream_dir / "gitops" / name).read_text())
    return doc


def test_each_generation_gets_the_next_revision_which_becomes_ready(upstream_dir: Path) -> None:
    svc = _load(upstream_dir, "knative-service-torghut-sim.yaml")
    svc["metadata"]["generation"] = 1
    first = knative_status(svc, Verdict("True"), NOW)
    assert first["latestCreatedRevisionName"] == first["latestReadyRevisionName"] == "torghut-sim-00001"
    assert first["observedGeneration"] == 1
    svc["status"], svc["metadata"]["generation"] = first, 2
    deploying = knative_status(svc, Verdict("Unknown", "deploying", "starting"), NOW)
    assert deploying["latestCreatedRevisionName"] == "torghut-sim-00002"
    assert deploying["latestReadyRevisionName"] == "torghut-sim-00001"
    ready = {c["type"]: c for c in deploying["conditions"]}["Ready"]
    assert ready["status"] == "Unknown" and ready["reason"] == "deploying"
    svc["status"] = deploying
    done = knative_status(svc, Verdict("True"), "2026-03-06T21:00:05Z")
    assert done["latestReadyRevisionName"] == done["latestCreatedRevisionName"] == "torghut-sim-00002"
    assert knative_status_changed(svc, done)
    svc["status"] = done
    assert not knative_status_changed(svc, knative_status(svc, Verdict("True"), "2026-03-06T22:00:00Z"))


def test_a_refused_generation_is_ready_false_and_keeps_the_old_revision_serving() -> None:
    svc = {
        "metadata": {"name": "torghut-sim", "namespace": "torghut", "generation": 3},
        "status": {
            "observedGeneration": 2,
            "latestCreatedRevisionName": "torghut-sim-00002",
            "latestReadyRevisionName": "torghut-sim-00002",
        },
    }
    status = knative_status(svc, Verdict("False", "not_paper_only", "TRADING_MODE='live'"), NOW)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "False" and conditions["Ready"]["reason"] == "not_paper_only"
    assert conditions["RoutesReady"]["status"] == "True"
    assert status["latestCreatedRevisionName"] == "torghut-sim-00003"
    assert status["traffic"][0]["revisionName"] == "torghut-sim-00002"


def test_flink_status_records_the_reconciled_spec_and_state(upstream_dir: Path) -> None:
    dep = _load(upstream_dir, "ta-sim-flinkdeployment.yaml")
    dep["metadata"]["generation"] = 4
    running = flink_status(dep, "RUNNING", NOW)
    assert running["jobStatus"]["state"] == "RUNNING" and running["lifecycleState"] == "STABLE"
    assert running["observedGeneration"] == 4
    assert json.loads(running["reconciliationStatus"]["lastReconciledSpec"])["restartNonce"] == 40
    assert flink_status(dep, "SUSPENDED", NOW)["lifecycleState"] == "SUSPENDED"
    assert flink_spec_key(dep) == (4, 40, "running")
    assert flink_status(dep, "RUNNING", NOW)["jobStatus"]["jobId"] == running["jobStatus"]["jobId"]


def _sim_env(**extra: str) -> dict[str, str]:
    return {
        **PAPER_ONLY_ENV,
        "DB_DSN": "postgresql://u:p@127.0.0.1:55432/torghut_sim_x",
        "TRADING_SIGNAL_TABLE": "torghut_sim_x.ta_signals",
        "TRADING_PRICE_TABLE": "torghut_sim_x.ta_microbars",
        "TRADING_SIMULATION_RUN_ID": "sim-20260306-01",
        "TRADING_SIMULATION_WINDOW_START": "2026-03-06T14:30:00Z",
        "TRADING_SIMULATION_WINDOW_END": "2026-03-06T21:00:00Z",
        "TRADING_ORDER_FEED_TOPIC": "torghut.sim.trade-updates.v1.sim_20260306_01",
        **extra,
    }


def test_the_upstream_env_is_baseline_and_a_simulation_env_parses(upstream_dir: Path) -> None:
    env = container_env(_load(upstream_dir, "knative-service-torghut-sim.yaml"))
    assert env["TRADING_SIMULATION_ENABLED"] == "false" and not simulation_enabled(env)
    assert "TORGHUT_SIM_DB_PASSWORD" not in env  # secret references are not literal values
    settings = TorghutSettings.from_env({**env, **_sim_env()})
    assert settings.signal_table == ("torghut_sim_x", "ta_signals")
    assert settings.account_label == "TORGHUT_SIM"
    assert "p@" not in repr(settings)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"TRADING_MODE": "live"}, "not_paper_only"),
        ({"TRADING_SIGNAL_TABLE": "torghut.ta_signals"}, "production_database"),
        ({"TRADING_ORDER_FEED_TOPIC": "torghut.trade-updates.v1"}, "production_topic"),
        ({"TRADING_SIMULATION_WINDOW_END": "2026-03-06T14:00:00Z"}, "invalid_window"),
        ({"TRADING_SIMULATION_RUN_ID": ""}, "simulation_env_incomplete"),
        ({"DB_DSN": "postgresql://$(USER):$(PW)@h/db"}, "db_dsn_unresolved"),
    ],
)
def test_unsafe_or_incomplete_simulation_envs_are_refused(extra: dict[str, str], reason: str) -> None:
    with pytest.raises(RuntimeConfigError) as refused:
        TorghutSettings.from_env(_sim_env(**extra))
    assert refused.value.reason == reason


def test_the_ta_configmap_names_a_simulation_database(upstream_dir: Path) -> None:
    data = _load(upstream_dir, "ta-sim-configmap.yaml")["data"]
    settings = TaSettings.from_configmap(data)
    assert settings.database == "torghut_sim_default" and settings.auto_offset_reset == "latest"
    assert settings.max_out_of_order_ms == 2000 and settings.quote_stale_ms == 15_000
    with pytest.raises(RuntimeConfigError) as refused:
        TaSettings.from_configmap({**data, "TA_CLICKHOUSE_URL": "jdbc:clickhouse://h:8123/torghut"})
    assert refused.value.reason == "production_database"
    with pytest.raises(RuntimeConfigError) as refused:
        TaSettings.from_configmap({**data, "TA_SIGNALS_TOPIC": "torghut.ta.signals.v1"})
    assert refused.value.reason == "production_topic"


def test_a_secret_reference_is_resolved_as_the_kubelet_would(upstream_dir: Path) -> None:
    service = _load(upstream_dir, "knative-service-torghut-sim.yaml")
    ref = {"secretKeyRef": {"name": "torghut-sim-runtime-db", "key": "DB_DSN"}}
    service["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "DB_DSN", "valueFrom": ref})
    secrets = {("torghut-sim-runtime-db", "DB_DSN"): "postgresql://u:pw@h/torghut_sim_x"}
    env = container_env(service, lambda name, key: secrets.get((name, key)))
    assert env["DB_DSN"] == "postgresql://u:pw@h/torghut_sim_x"
    # A reference that does not resolve leaves the variable out (a pod would not start with it).
    assert "DB_DSN" not in container_env(service, lambda _name, _key: None)
    assert "DB_DSN" not in container_env(service)


def test_the_metrics_url_is_announced_in_the_status_annotations(upstream_dir: Path) -> None:
    from torghut_sim.runtime_metrics.discovery import METRICS_URL_ANNOTATION, resolve_metrics_url

    svc = _load(upstream_dir, "knative-service-torghut-sim.yaml")
    plain = knative_status(svc, Verdict("True"), NOW)
    assert "annotations" not in plain
    url = "http://127.0.0.1:41234/metrics"
    announced = knative_status(svc, Verdict("True"), NOW, {METRICS_URL_ANNOTATION: url})
    assert announced["annotations"] == {METRICS_URL_ANNOTATION: url}
    svc["status"] = plain
    assert knative_status_changed(svc, announced)
    assert resolve_metrics_url(None, {**svc, "status": announced}) == (url, "service_status")
