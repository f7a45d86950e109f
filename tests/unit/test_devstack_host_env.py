"""The host pipeline environment: this stack's ports and the instance's home, nothing inherited of ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from torghut_sim.devstack.config import REPO_ROOT
from torghut_sim.devstack.host_env import host_pipeline_env


def test_env_points_at_this_stack_and_drops_inherited_pipeline_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORGHUT_DEVSTACK_POSTGRES_PORT", "45432")
    monkeypatch.setenv("TORGHUT_DEVSTACK_KAFKA_PORT", "49092")
    monkeypatch.setenv("TORGHUT_DEVSTACK_CLICKHOUSE_PORT", "48123")
    monkeypatch.setenv("TORGHUT_DEVSTACK_POSTGRES_PASSWORD", "pw")
    monkeypatch.setenv("TORGHUT_SIM_OUTPUT_ROOT", "/elsewhere")
    monkeypatch.setenv("TORGHUT_SIM_STALE", "x")
    monkeypatch.setenv("DAGSTER_STALE", "x")
    env = host_pipeline_env(tmp_path / "home", "dagster_x", tmp_path / "out", tmp_path / "kubeconfig")
    assert "TORGHUT_SIM_STALE" not in env and "DAGSTER_STALE" not in env
    assert env["TORGHUT_SIM_OUTPUT_ROOT"] == str(tmp_path / "out")
    assert env["TORGHUT_SIM_KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert env["TORGHUT_SIM_TEMPLATE"] == str(REPO_ROOT / "config" / "local-trading-day-template.yaml")
    assert env["TORGHUT_SIM_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:49092"
    assert env["TORGHUT_SIM_CLICKHOUSE_HTTP_URL"] == "http://127.0.0.1:48123"
    assert env["TORGHUT_SIM_POSTGRES_ADMIN_DSN"] == "postgresql://postgres@127.0.0.1:45432/postgres"
    assert env["TORGHUT_SIM_POSTGRES_SIMULATION_DSN_TEMPLATE"] == "postgresql://postgres@127.0.0.1:45432/{db}"
    assert (env["DAGSTER_HOME"], env["DAGSTER_PG_PORT"], env["DAGSTER_PG_DB"]) == (
        str(tmp_path / "home"),
        "45432",
        "dagster_x",
    )
    assert env["DAGSTER_PG_PASSWORD"] == "pw"


def test_env_defaults_the_stack_passwords(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TORGHUT_DEVSTACK_POSTGRES_PASSWORD", raising=False)
    monkeypatch.delenv("TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD", raising=False)
    env = host_pipeline_env(tmp_path / "home", "db", tmp_path / "out", tmp_path / "kubeconfig")
    assert env["DAGSTER_PG_PASSWORD"] == "devstack"
    assert env["TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD"] == "devstack"
