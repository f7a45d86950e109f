"""The run-clients resource: secrets from the environment, or from a mounted Secret's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from resources import RunClientsResource
from resources.deployment import DeploymentSettings, build_resources


def test_secret_files_are_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "TORGHUT_SIM_KAFKA_PASSWORD").write_text("from-file\n")
    (tmp_path / "TORGHUT_POSTGRES_PASSWORD").write_text("file-pg")
    (tmp_path / "..data").mkdir()
    (tmp_path / ".hidden").write_text("never")
    monkeypatch.setenv("TORGHUT_POSTGRES_PASSWORD", "env-pg")
    monkeypatch.delenv("TORGHUT_SIM_KAFKA_PASSWORD", raising=False)
    secrets = RunClientsResource(secrets_dir=str(tmp_path))._environ()
    assert secrets["TORGHUT_SIM_KAFKA_PASSWORD"] == "from-file"
    assert secrets["TORGHUT_POSTGRES_PASSWORD"] == "env-pg"
    assert ".hidden" not in secrets and "..data" not in secrets


def test_without_a_directory_only_the_environment_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORGHUT_SIM_KAFKA_PASSWORD", "env-only")
    assert RunClientsResource()._environ()["TORGHUT_SIM_KAFKA_PASSWORD"] == "env-only"


def test_the_deployment_names_the_directory_and_never_a_secret_value() -> None:
    settings = DeploymentSettings.from_env({"TORGHUT_SIM_SECRETS_DIR": "/var/run/secrets/torghut-sim"})
    resource = build_resources(settings)["run_clients"]
    assert resource.model_dump() == {"secrets_dir": "/var/run/secrets/torghut-sim"}
