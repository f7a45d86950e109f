"""Loading the code location (what every Dagster run and step pays) pulls in none of the heavy clients."""

from __future__ import annotations

import subprocess
import sys

# Each costs a quarter second or more to import; the steps that need them import them on first use.
HEAVY = (
    "kubernetes",
    "matplotlib",
    "polars",
    "pyarrow",
    "pandas",
    "duckdb",
    "clickhouse_connect",
    "psycopg",
    "confluent_kafka",
    "exchange_calendars",
)


def test_the_definitions_load_without_the_heavy_clients() -> None:
    probe = f"import sys, torghut_sim.definitions; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
