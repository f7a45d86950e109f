"""Which production Postgres database the contamination check watches, and where that name came from.

In order: the deployment's explicit setting; the database of the runtime's own `DB_DSN` as it is before
the run patches it (when that is a literal production database, not a simulation one); else the
contract's production database `torghut`. The chosen database must exist on the admin server, so a run
never silently watches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from torghut_sim.runtime.knative import effective_env
from torghut_sim.secrets import redact_dsn
from torghut_sim.stores.errors import PostgresProvisionError, StoreError
from torghut_sim.stores.postgres_provision import database_of
from torghut_sim.stores.safety import SIMULATION_DATABASE_PREFIX

# The runtime's production database (CONTRACTS: the database `plan` refuses as a simulation target).
PRODUCTION_POSTGRES_DATABASE = "torghut"


class ProductionPostgresUnknownError(StoreError):
    """The production Postgres database to watch cannot be determined or does not exist."""

    reason = "production_postgres_unknown"


@dataclass(frozen=True)
class WatchedDatabase:
    """The production database the check watches and the source of its name."""

    name: str
    source: str  # configured | runtime_env | contract_default

    def as_dict(self) -> dict[str, str]:
        """Evidence for run-state.json."""
        return {"database": self.name, "source": self.source}


def runtime_database(env_list: Sequence[Mapping[str, Any]]) -> str | None:
    """The database of the runtime's literal `DB_DSN`, when it names a production (non-simulation) one."""
    dsn = effective_env(env_list).get("DB_DSN")
    if not dsn:
        return None
    try:
        name = database_of(dsn)
    except (PostgresProvisionError, ValueError):
        return None
    # `$(VAR)` references are resolved only inside the pod; a simulation database is not production.
    if "$(" in name or name.startswith(SIMULATION_DATABASE_PREFIX):
        return None
    return name


def resolve_watched(
    configured: str | None, runtime_env: Sequence[Mapping[str, Any]] | None
) -> WatchedDatabase:
    """The database to watch, by the order in the module docstring."""
    if configured:
        return WatchedDatabase(configured, "configured")
    derived = runtime_database(runtime_env or [])
    if derived:
        return WatchedDatabase(derived, "runtime_env")
    return WatchedDatabase(PRODUCTION_POSTGRES_DATABASE, "contract_default")


def require_exists(admin_dsn: str, watched: WatchedDatabase) -> None:
    """Refuse to run when the watched database is not on the server (a typo would watch nothing)."""
    try:
        with psycopg.connect(admin_dsn, connect_timeout=10) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (watched.name,)).fetchone()
    except psycopg.Error as exc:
        raise ProductionPostgresUnknownError(
            f"cannot list the databases of {redact_dsn(admin_dsn)} to find production database "
            f"{watched.name!r}: {type(exc).__name__}"
        ) from None
    if found is None:
        raise ProductionPostgresUnknownError(
            f"production Postgres database {watched.name!r} ({watched.source}) does not exist on "
            f"{redact_dsn(admin_dsn)}; set the deployment's production_postgres_database "
            "(TORGHUT_SIM_PRODUCTION_POSTGRES_DATABASE) to the runtime's production database"
        )
