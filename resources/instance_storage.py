"""The Dagster instance's storage: Postgres from `DAGSTER_PG_*`, else SQLite for one-off CLI checks.

The top-level `dagster.yaml` names this class so that one instance file serves both the local deployment
(the demo, `dg dev`, the daemon: Postgres on the local stack, reached through `DAGSTER_PG_*`) and a bare
checkout, where `dg check defs` runs without any `DAGSTER_PG_*` variable and without a database server.
A partial set of the variables is a configuration mistake and is refused, never quietly downgraded.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import Field, StringSource
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster_postgres.utils import get_conn_string

from resources.prompt_claims import StorageSet, postgres_storage_set, sqlite_storage_set

# Every variable the Postgres storage needs; the password never lives in the instance file.
PG_VARIABLES: tuple[str, ...] = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD",
)
# SQLAlchemy 2.1 would pick psycopg 3 for a bare `postgresql`; dagster-postgres needs psycopg2.
PG_SCHEME = "postgresql+psycopg2"


class InstanceStorageError(ValueError):
    """The instance's storage variables are set only in part."""

    reason = "dagster_storage_incomplete"


def postgres_url(environ: Mapping[str, str]) -> str | None:
    """The storage URL from `DAGSTER_PG_*`; None when none is set; an error when only some are."""
    present = [name for name in PG_VARIABLES if environ.get(name)]
    if not present:
        return None
    missing = [name for name in PG_VARIABLES if not environ.get(name)]
    if missing:
        raise InstanceStorageError(
            f"[{InstanceStorageError.reason}] Dagster's Postgres storage needs {', '.join(missing)} "
            f"as well as {', '.join(present)}"
        )
    return get_conn_string(
        username=environ["DAGSTER_PG_USERNAME"],
        password=environ["DAGSTER_PG_PASSWORD"],
        hostname=environ["DAGSTER_PG_HOST"],
        db_name=environ["DAGSTER_PG_DB"],
        port=environ["DAGSTER_PG_PORT"],
        scheme=PG_SCHEME,
    )


def sqlite_base_dir(environ: Mapping[str, str], configured: str | None) -> str:
    """The SQLite fallback's directory: configured, else under DAGSTER_HOME, else one removed at exit."""
    if configured:
        return configured
    home = environ.get("DAGSTER_HOME")
    if home:
        return str(Path(home) / "storage")
    # Only a one-off CLI (e.g. `dg check defs` in a bare checkout) gets here: nothing of it is kept.
    tmp = tempfile.mkdtemp(prefix="torghut-sim-dagster-")
    atexit.register(shutil.rmtree, tmp, True)
    return tmp


class PostgresOrLocalStorage(StorageSet, ConfigurableClass):
    """Dagster storage: Postgres when `DAGSTER_PG_*` is set, else SQLite; blocked claims retry each second."""

    def __init__(
        self, storages: StorageSet, backend: str, inst_data: ConfigurableClassData | None = None
    ) -> None:
        self._backend = backend
        self._inst_data = inst_data
        super().__init__(storages.run_storage, storages.event_log_storage, storages.schedule_storage)

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @property
    def backend(self) -> str:
        """`postgres` or `sqlite`: which storage this instance really uses."""
        return self._backend

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"sqlite_base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PostgresOrLocalStorage:
        environ = os.environ
        url = postgres_url(environ)
        if url is not None:
            return cls(postgres_storage_set(url), "postgres", inst_data)
        base_dir = sqlite_base_dir(environ, config_value.get("sqlite_base_dir"))
        return cls(sqlite_storage_set(base_dir), "sqlite", inst_data)
