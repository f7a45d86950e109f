"""Provisioning of the simulation Postgres database.

Order: create the database with the admin DSN when missing (owned by the simulation DSN's user when that
differs from the admin), run the runtime's migrations command with `DB_DSN` set to the simulation DSN,
grant the runtime role what it needs, verify the required tables, then truncate the runtime tables
(`RESTART IDENTITY CASCADE`) and seed `trade_cursor` at the window start in one transaction.
Every database step is idempotent and retried on transient connection failures only.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

from torghut_sim.secrets import redact_dsn, redact_text
from torghut_sim.stores.errors import MigrationFailedError, MissingTablesError, PostgresProvisionError
from torghut_sim.stores.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from torghut_sim.stores.safety import redact_values, require_simulation_database
from torghut_sim.tables import POSTGRES_TABLES

log = logging.getLogger(__name__)

MIGRATION_TAIL_LINES = 20
CONNECT_TIMEOUT_SECONDS = 10


# The account label a runtime trades under when its env does not name one (TRADING_ACCOUNT_LABEL).
DEFAULT_ACCOUNT_LABEL = "paper"


@dataclass(frozen=True)
class CursorSeed:
    """The `trade_cursor` row the runtime starts from: its source and account label."""

    source: str = "clickhouse"
    account_label: str = DEFAULT_ACCOUNT_LABEL


@dataclass(frozen=True)
class PostgresPlan:
    """Everything `provision_postgres` needs, as plain values (the manifest is wired in by the caller)."""

    admin_dsn: str
    simulation_dsn: str
    migrations_command: str | Sequence[str]
    window_start: datetime
    runtime_role: str | None = None
    cursor_seeds: tuple[CursorSeed, ...] = (CursorSeed(),)
    migrations_cwd: Path | None = None
    migrations_timeout_seconds: float = 600.0
    migrations_env: Mapping[str, str] = field(default_factory=dict)
    production_databases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostgresProvisionResult:
    """What was done, for the run's evidence (DSNs redacted)."""

    database: str
    simulation_dsn: str
    created: bool
    migrations_output_tail: str
    granted_role: str | None
    truncated_tables: tuple[str, ...]
    cursor_at: str


def database_of(dsn: str) -> str:
    """The database name in a `postgresql://` DSN."""
    name = unquote(urlsplit(dsn).path.lstrip("/"))
    if not name:
        raise PostgresProvisionError(f"DSN {redact_dsn(dsn)} names no database")
    return name


def user_of(dsn: str) -> str | None:
    """The user name in a `postgresql://` DSN, if any."""
    user = urlsplit(dsn).username
    return unquote(user) if user else None


def _password_of(dsn: str) -> str | None:
    password = urlsplit(dsn).password
    return unquote(password) if password else None


def _connect(dsn: str, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_SECONDS)


def ensure_database(
    admin_dsn: str, database: str, owner: str | None = None, retry: RetryPolicy = DEFAULT_RETRY
) -> bool:
    """Create `database` with the admin DSN unless it exists; True when it was created now."""
    require_simulation_database(database)

    def attempt() -> bool:
        with _connect(admin_dsn, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if exists:
                return False
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
            if owner:
                statement = sql.SQL("{} OWNER {}").format(statement, sql.Identifier(owner))
            try:
                conn.execute(statement)
            except psycopg.errors.DuplicateDatabase:
                # Created concurrently (or by our own attempt before a dropped connection).
                return False
            return True

    return with_retry(attempt, retry)


def run_migrations(
    command: str | Sequence[str],
    simulation_dsn: str,
    cwd: Path | None = None,
    timeout_seconds: float = 600.0,
    extra_env: Mapping[str, str] | None = None,
) -> str:
    """Run the migrations command with `DB_DSN` set; return its output tail or raise with it."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if not argv:
        raise MigrationFailedError("the migrations command is empty")
    env = {**os.environ, **(extra_env or {}), "DB_DSN": simulation_dsn}
    secrets = [_password_of(simulation_dsn), simulation_dsn]
    shown = redact_values(shlex.join(argv), secrets)
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_seconds,
            check=False,
        )
    except FileNotFoundError as exc:
        raise MigrationFailedError(f"migrations command not found: {shown}: {exc.strerror}") from exc
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else ""
        tail = _tail(redact_values(output, secrets))
        raise MigrationFailedError(
            f"migrations command timed out after {timeout_seconds:g}s: {shown}; last lines:\n{tail}"
        ) from exc
    tail = _tail(redact_values(done.stdout.decode(errors="replace"), secrets))
    if done.returncode != 0:
        raise MigrationFailedError(
            f"migrations command exited {done.returncode}: {shown}; last lines:\n{tail}"
        )
    return tail


def _tail(output: str, lines: int = MIGRATION_TAIL_LINES) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def grant_runtime_role(simulation_dsn: str, role: str, retry: RetryPolicy = DEFAULT_RETRY) -> None:
    """Let `role` connect, read and write the runtime tables and use their sequences (now and later)."""
    database = database_of(simulation_dsn)
    ident = sql.Identifier(role)
    statements = [
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(database), ident),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO {}").format(
            ident
        ),
        sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE "
            "ON TABLES TO {}"
        ).format(ident),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {}"
        ).format(ident),
    ]

    def attempt() -> None:
        with _connect(simulation_dsn) as conn:
            for statement in statements:
                conn.execute(statement)

    with_retry(attempt, retry)


def missing_tables(
    simulation_dsn: str, tables: Iterable[str] = POSTGRES_TABLES, retry: RetryPolicy = DEFAULT_RETRY
) -> list[str]:
    """The required tables that are not visible on the simulation database's search path."""
    wanted = list(tables)

    def attempt() -> list[str]:
        with _connect(simulation_dsn) as conn:
            rows = conn.execute(
                "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(quote_ident(t)) IS NULL",
                (wanted,),
            ).fetchall()
        return sorted(str(r[0]) for r in rows)

    return with_retry(attempt, retry)


def verify_tables(
    simulation_dsn: str, tables: Iterable[str] = POSTGRES_TABLES, retry: RetryPolicy = DEFAULT_RETRY
) -> None:
    """Refuse a simulation database whose migrations did not create every required table."""
    missing = missing_tables(simulation_dsn, tables, retry)
    if missing:
        raise MissingTablesError(f"{redact_dsn(simulation_dsn)} lacks {', '.join(missing)} after migrations")


def reset_runtime_tables(
    simulation_dsn: str,
    window_start: datetime,
    cursor_seeds: Sequence[CursorSeed] = (CursorSeed(),),
    tables: Sequence[str] = POSTGRES_TABLES,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> None:
    """Empty the runtime tables and seed `trade_cursor` at the window start, atomically."""
    if window_start.tzinfo is None:
        raise PostgresProvisionError("window_start must be timezone-aware")
    truncate = sql.SQL("TRUNCATE TABLE {} RESTART IDENTITY CASCADE").format(
        sql.SQL(", ").join(sql.Identifier(t) for t in tables)
    )

    def attempt() -> None:
        with _connect(simulation_dsn) as conn:
            conn.execute(truncate)
            for seed in cursor_seeds:
                conn.execute(
                    "INSERT INTO trade_cursor (source, account_label, cursor_at) VALUES (%s, %s, %s)",
                    (seed.source, seed.account_label, window_start),
                )

    with_retry(attempt, retry)


class PostgresUnreachableError(PostgresProvisionError):
    """The Postgres server did not answer (or refused the connection) after the retries."""

    reason = "postgres_unreachable"


def provision_postgres(plan: PostgresPlan, retry: RetryPolicy = DEFAULT_RETRY) -> PostgresProvisionResult:
    """Create (if missing), migrate, grant, verify, truncate and seed the simulation database.

    A database created by this call is dropped again when a later step fails, so a failure leaves
    nothing half-made; a server error is one `[postgres_unreachable]` / `[postgres_provision_failed]` line.
    """
    database = database_of(plan.simulation_dsn)
    require_simulation_database(database, plan.production_databases)
    created = False
    try:
        created = ensure_database(
            plan.admin_dsn, database, owner=_owner(plan.admin_dsn, plan.simulation_dsn), retry=retry
        )
        return _provision_created(plan, database, created, retry)
    except BaseException as exc:
        if created:
            _drop_quietly(plan.admin_dsn, database)
        if isinstance(exc, psycopg.Error):
            raise _server_error(exc, database) from None
        raise


def _owner(admin_dsn: str, simulation_dsn: str) -> str | None:
    """The simulation user owns the database when it is not the admin user itself."""
    admin_user, sim_user = user_of(admin_dsn), user_of(simulation_dsn)
    return sim_user if sim_user and sim_user != admin_user else None


def _server_error(exc: psycopg.Error, database: str) -> PostgresProvisionError:
    """One readable line for a server error (no DSN, no password: libpq messages name host and port)."""
    first = (redact_text(str(exc)).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.OperationalError):
        return PostgresUnreachableError(f"provisioning {database}: {first}")
    return PostgresProvisionError(f"provisioning {database}: {first}")


def _drop_quietly(admin_dsn: str, database: str) -> None:
    """Drop a database this call created; a failure here must not hide the error that caused it."""
    require_simulation_database(database)
    try:
        with _connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    except psycopg.Error:
        log.warning("could not drop the half-provisioned database %s", database)


def _provision_created(
    plan: PostgresPlan, database: str, created: bool, retry: RetryPolicy
) -> PostgresProvisionResult:
    """Every step after the database exists."""
    sim_user = user_of(plan.simulation_dsn)
    tail = run_migrations(
        plan.migrations_command,
        plan.simulation_dsn,
        cwd=plan.migrations_cwd,
        timeout_seconds=plan.migrations_timeout_seconds,
        extra_env=plan.migrations_env,
    )
    granted: str | None = None
    if plan.runtime_role and plan.runtime_role != sim_user:
        grant_runtime_role(plan.simulation_dsn, plan.runtime_role, retry)
        granted = plan.runtime_role
    verify_tables(plan.simulation_dsn, retry=retry)
    reset_runtime_tables(plan.simulation_dsn, plan.window_start, plan.cursor_seeds, retry=retry)
    return PostgresProvisionResult(
        database=database,
        simulation_dsn=redact_dsn(plan.simulation_dsn),
        created=created,
        migrations_output_tail=tail,
        granted_role=granted,
        truncated_tables=POSTGRES_TABLES,
        cursor_at=plan.window_start.isoformat(),
    )
