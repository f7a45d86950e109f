"""Blocked runtime-pool claims are retried every second, on the storage the instance files name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from resources.instance_storage import PG_VARIABLES
from resources.prompt_claims import (
    BLOCKED_CLAIM_RETRY_SECONDS,
    PromptClaimPostgresStorage,
    PromptClaimSqliteEventLogStorage,
)

REPO = Path(__file__).resolve().parents[2]
POOL = "torghut_runtime_default"
STEP = "simulate_day.simulate_on_runtime"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DagsterInstance:
    """The top-level dagster.yaml's instance on a real SQLite storage in tmp."""
    for name in PG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    shutil.copyfile(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path)))


def test_the_instance_event_log_is_the_prompt_claim_one(instance: DagsterInstance) -> None:
    with instance:
        assert isinstance(instance.event_log_storage, PromptClaimSqliteEventLogStorage)


def test_a_blocked_claim_retries_after_one_second_and_gets_the_freed_slot(instance: DagsterInstance) -> None:
    with instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        first = storage.claim_concurrency_slot(POOL, "run-day-1", STEP)
        assert first.is_claimed
        blocked = storage.claim_concurrency_slot(POOL, "run-day-2", STEP)
        assert not blocked.is_claimed
        assert blocked.sleep_interval == BLOCKED_CLAIM_RETRY_SECONDS == 1.0

        storage.free_concurrency_slot_for_step("run-day-1", STEP)
        second = storage.claim_concurrency_slot(POOL, "run-day-2", STEP)
        assert second.is_claimed
        # A claimed slot carries no retry interval: nothing waits.
        assert second.sleep_interval is None


def test_dagsters_own_sqlite_storage_would_leave_the_interval_to_the_backoff(tmp_path: Path) -> None:
    # The baseline the subclass changes: without it a blocked claim carries no interval (1.1**n s, ≤ 15 s).
    storage = SqliteEventLogStorage(str(tmp_path / "events"))
    try:
        storage.set_concurrency_slots(POOL, 1)
        assert storage.claim_concurrency_slot(POOL, "run-day-1", STEP).is_claimed
        blocked = storage.claim_concurrency_slot(POOL, "run-day-2", STEP)
        assert not blocked.is_claimed
        assert blocked.sleep_interval is None
    finally:
        storage.dispose()


def test_the_kubernetes_instance_uses_the_prompt_claim_postgres_storage() -> None:
    config = yaml.safe_load((REPO / "deploy" / "k8s" / "dagster-instance.yaml").read_text())
    custom = config["storage"]["custom"]
    assert (custom["module"], custom["class"]) == (
        "resources.prompt_claims",
        PromptClaimPostgresStorage.__name__,
    )
    postgres_db = custom["config"]["postgres_db"]
    assert postgres_db["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert postgres_db["scheme"] == "postgresql+psycopg2"
