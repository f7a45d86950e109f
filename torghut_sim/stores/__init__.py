"""Simulation stores: provisioning of the simulation ClickHouse and Postgres databases, evidence export,
row-count deltas, production contamination checks and cleanup of finished runs.

One module per concern: `clickhouse_ddl` (pure DDL rewrite), `clickhouse_provision`, `postgres_provision`,
`retry`, `export`, `deltas`, `contamination`, `cleanup`; shared refusals live in `safety` and `errors`.
"""
