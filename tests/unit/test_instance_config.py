"""The top-level dagster.yaml: Postgres from DAGSTER_PG_*, SQLite without them, no sign-up dialog."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from resources.instance_storage import (
    PG_VARIABLES,
    InstanceStorageError,
    PostgresOrLocalStorage,
    postgres_url,
)

REPO = Path(__file__).resolve().parents[2]
PG_ENV = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "55432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "postgres",
    "DAGSTER_PG_PASSWORD": "p@ss word",
}


def test_postgres_url_from_every_variable_quotes_the_password() -> None:
    url = postgres_url(PG_ENV)
    assert url is not None
    assert url.startswith("postgresql+psycopg2://postgres:p%40ss%20word@127.0.0.1:55432/dagster")


def test_no_variable_means_no_postgres() -> None:
    assert postgres_url({"PATH": "/usr/bin"}) is None


def test_a_partial_set_is_refused_with_the_missing_names() -> None:
    partial = {k: v for k, v in PG_ENV.items() if k != "DAGSTER_PG_PASSWORD"}
    with pytest.raises(InstanceStorageError, match=r"\[dagster_storage_incomplete\].*DAGSTER_PG_PASSWORD"):
        postgres_url(partial)


def test_the_instance_file_is_at_the_top_level_and_turns_off_the_signup_dialog() -> None:
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert config["nux"] == {"enabled": False}
    assert config["telemetry"] == {"enabled": False}
    assert config["storage"]["custom"]["class"] == PostgresOrLocalStorage.__name__
    assert not (REPO / "dagster_home").exists()


def _local_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DagsterInstance:
    """The repository's dagster.yaml as DAGSTER_HOME in `tmp_path`, with no DAGSTER_PG_* variable set."""
    for name in PG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    shutil.copyfile(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path)))


def test_the_instance_loads_on_sqlite_without_any_pg_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _local_instance(tmp_path, monkeypatch) as instance:
        storage = instance.get_ref().storage
        assert isinstance(storage, PostgresOrLocalStorage)
        assert storage.backend == "sqlite"
        assert instance.get_runs() == []
    assert (tmp_path / "storage").is_dir()


def test_both_instances_drain_the_run_queue_every_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _local_instance(tmp_path, monkeypatch) as instance:
        coordinator = instance.run_coordinator
        assert getattr(coordinator, "dequeue_interval_seconds", None) == 1
        # The run limit still comes from the `concurrency` block.
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 8
    deployed = yaml.safe_load((REPO / "deploy" / "k8s" / "dagster-instance.yaml").read_text())
    assert deployed["run_coordinator"]["config"]["dequeue_interval_seconds"] == 1
