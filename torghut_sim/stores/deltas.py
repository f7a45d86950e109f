"""Row-count deltas of the simulation tables: counts before and after the run, and their difference.

A table that does not exist counts as `None` (not zero), so "missing" stays distinguishable from
"empty" in the evidence; the delta treats a missing side as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint, table_progress
from torghut_sim.stores.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from torghut_sim.tables import CLICKHOUSE_TABLES, POSTGRES_TABLES

Counts = dict[str, int | None]


@dataclass(frozen=True)
class RowDelta:
    """Rows of one table before and after the run."""

    store: str
    table: str
    before: int | None
    after: int | None

    @property
    def delta(self) -> int:
        """Rows added by the run (negative when rows went away)."""
        return (self.after or 0) - (self.before or 0)

    def to_json(self) -> dict[str, object]:
        """The delta as evidence."""
        return {
            "store": self.store,
            "table": self.table,
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
        }


def postgres_counts(
    dsn: str, tables: Iterable[str] = POSTGRES_TABLES, retry: RetryPolicy = DEFAULT_RETRY
) -> Counts:
    """Exact row counts of the simulation Postgres tables (None for a missing table)."""
    wanted = list(tables)

    def attempt() -> Counts:
        out: Counts = {}
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            for table in wanted:
                exists = conn.execute("SELECT to_regclass(quote_ident(%s)) IS NOT NULL", (table,)).fetchone()
                if not (exists and exists[0]):
                    out[table] = None
                    continue
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                row = conn.execute(query).fetchone()
                out[table] = int(row[0]) if row else 0
        return out

    return with_retry(attempt, retry)


def clickhouse_counts(
    endpoint: ClickHouseEndpoint, database: str, tables: Iterable[str] = CLICKHOUSE_TABLES
) -> Counts:
    """Row counts of the simulation ClickHouse tables (missing tables count as 0)."""
    return {p.table: p.rows for p in table_progress(endpoint, database, tables)}


def row_deltas(
    store: str, before: Mapping[str, int | None], after: Mapping[str, int | None]
) -> list[RowDelta]:
    """One delta per table seen on either side, in table-name order."""
    return [RowDelta(store, t, before.get(t), after.get(t)) for t in sorted(set(before) | set(after))]
