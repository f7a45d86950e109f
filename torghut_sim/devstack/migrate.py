"""The local stand-in for the Torghut runtime's migrations: `python -m torghut_sim.devstack.migrate`.

Reads the target DSN from `DB_DSN` (as the runtime's alembic does) and applies `runtime_schema.sql` in
one transaction under an advisory lock, so concurrent or repeated runs are harmless.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg

from torghut_sim.secrets import redact_dsn

SCHEMA_FILE = Path(__file__).with_name("runtime_schema.sql")
# Any constant works; it only serialises concurrent migrations of the same database.
_LOCK_KEY = 7_412_630_551


def migrate(dsn: str) -> None:
    """Apply the runtime schema to the database of `dsn`."""
    ddl = SCHEMA_FILE.read_text()
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(ddl.encode())


def main() -> int:
    """Migrate the database named by `DB_DSN`; exit 1 with one line on failure."""
    dsn = os.environ.get("DB_DSN", "")
    if not dsn:
        print("migrate: DB_DSN is not set", file=sys.stderr)
        return 1
    try:
        migrate(dsn)
    except psycopg.Error as exc:
        print(f"migrate: {redact_dsn(dsn)}: {exc}".strip(), file=sys.stderr)
        return 1
    print(f"migrate: schema applied to {redact_dsn(dsn)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
