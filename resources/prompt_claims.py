"""Dagster storages whose blocked pool claims retry every second, so a freed runtime lane is taken at once.

A step blocked on a pool (`torghut_runtime_<lane>`, op granularity) asks the event log storage again
after an interval: the storage's `ConcurrencyClaimStatus.sleep_interval` when it sets one, else
Dagster's backoff of 1.1**n seconds, capped at 15 s. A day's simulation waits minutes for the day before
it, so the backoff reaches its cap and each lane handoff of a backfill started up to 15 s late (about 4 s
on average per handoff). These storages set the interval of a blocked claim to one second instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.config import pg_config
from dagster._core.storage.event_log.base import EventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.base import RunStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.base import ScheduleStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster._utils.concurrency import ConcurrencyClaimStatus
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import pg_url_from_config

# One second: a blocked claim costs one indexed query of the pending-steps table, and at most
# `max_concurrent_runs` (8) steps wait at once, so Postgres sees a few cheap queries a second, while a lane
# freed by one day's simulation is taken by the next within a second rather than up to 15 s later.
BLOCKED_CLAIM_RETRY_SECONDS = 1.0


def prompt_retry(status: ConcurrencyClaimStatus) -> ConcurrencyClaimStatus:
    """The claim's status, with a blocked claim told to ask again after `BLOCKED_CLAIM_RETRY_SECONDS`."""
    if status.is_claimed:
        return status
    retried: ConcurrencyClaimStatus = status.with_sleep_interval(BLOCKED_CLAIM_RETRY_SECONDS)
    return retried


class PromptClaimPostgresEventLogStorage(PostgresEventLogStorage):
    """Dagster's Postgres event log storage; blocked pool claims retry every second."""

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> ConcurrencyClaimStatus:
        return prompt_retry(super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority))


class PromptClaimSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage; blocked pool claims retry every second."""

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> ConcurrencyClaimStatus:
        return prompt_retry(super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority))


class StorageSet(DagsterStorage):
    """A run, an event log and a schedule storage served together as one Dagster storage."""

    def __init__(
        self, runs: RunStorage[Any], events: EventLogStorage[Any], schedules: ScheduleStorage[Any]
    ) -> None:
        self._runs = runs
        self._events = events
        self._schedules = schedules
        super().__init__()  # type: ignore[no-untyped-call]  # Dagster's weakref holder is untyped

    def register_instance(self, instance: Any) -> None:
        super().register_instance(instance)
        for storage in (self._runs, self._events, self._schedules):
            if not storage.has_instance:
                storage.register_instance(instance)

    @property
    def event_log_storage(self) -> EventLogStorage[Any]:
        return self._events

    @property
    def run_storage(self) -> RunStorage[Any]:
        return self._runs

    @property
    def schedule_storage(self) -> ScheduleStorage[Any]:
        return self._schedules

    def dispose(self) -> None:
        """Close the storages' connections and watchers."""
        for storage in (self._runs, self._events, self._schedules):
            storage.dispose()


def postgres_storage_set(postgres_url: str, should_autocreate_tables: bool = True) -> StorageSet:
    """Dagster's Postgres storages at `postgres_url`, with the prompt-claim event log."""
    return StorageSet(
        PostgresRunStorage(postgres_url, should_autocreate_tables),
        PromptClaimPostgresEventLogStorage(postgres_url, should_autocreate_tables),
        PostgresScheduleStorage(postgres_url, should_autocreate_tables),
    )


def sqlite_storage_set(base_dir: str) -> StorageSet:
    """Dagster's SQLite storages under `base_dir` (its own layout), with the prompt-claim event log."""
    history = f"{base_dir.rstrip('/')}/history"
    return StorageSet(
        SqliteRunStorage.from_local(f"{history}/"),
        PromptClaimSqliteEventLogStorage(f"{history}/runs/"),
        SqliteScheduleStorage.from_local(f"{base_dir.rstrip('/')}/schedules"),
    )


class PromptClaimPostgresStorage(StorageSet, ConfigurableClass):
    """Dagster's Postgres storage (its `postgres_db`/`postgres_url` config); blocked claims retry each second.

    The Kubernetes deployment's instance names it under `storage: custom:`.
    """

    def __init__(self, storages: StorageSet, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        super().__init__(storages.run_storage, storages.event_log_storage, storages.schedule_storage)

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> Any:
        return pg_config()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PromptClaimPostgresStorage:
        storages = postgres_storage_set(
            pg_url_from_config(config_value), config_value.get("should_autocreate_tables", True)
        )
        return cls(storages, inst_data)
