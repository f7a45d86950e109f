"""The production DDL rewrite: rename into the simulation database, unique keeper path, no TTL."""

from __future__ import annotations

import pytest

from torghut_sim.stores.clickhouse_ddl import (
    keeper_path,
    remove_ttl,
    rewrite_create_table,
    unique_keeper_path,
)
from torghut_sim.stores.errors import ClickHouseDDLError

ENGINE_ARGS = "'/clickhouse/tables/{shard}/torghut/ta_microbars', '{replica}', ingest_ts"
PATH = "'/clickhouse/tables/{shard}/torghut/ta_microbars'"
# The shape `SHOW CREATE TABLE torghut.ta_microbars` returns in production (CONTRACTS §5).
PRODUCTION = f"""CREATE TABLE torghut.ta_microbars
(
    `symbol` LowCardinality(String),
    `event_ts` DateTime64(3, 'UTC'),
    `seq` UInt64,
    `ingest_ts` DateTime64(3, 'UTC'),
    `window_step` Nullable(String),
    `c` Float64,
    `count` UInt64
)
ENGINE = ReplicatedReplacingMergeTree({PATH}, '{{replica}}', ingest_ts)
PARTITION BY toDate(event_ts)
ORDER BY (symbol, event_ts, seq)
TTL toDateTime(event_ts) + toIntervalDay(35)
SETTINGS index_granularity = 8192"""

SIM = "torghut_sim_sim_20260227_01"


def test_renames_into_the_simulation_database() -> None:
    out = rewrite_create_table(PRODUCTION, SIM)
    assert out.startswith(f"CREATE TABLE IF NOT EXISTS `{SIM}`.`ta_microbars`\n(")
    assert "torghut.ta_microbars" not in out


def test_keeper_path_becomes_unique_to_the_simulation_database() -> None:
    out = rewrite_create_table(PRODUCTION, SIM)
    assert keeper_path(out) == f"/clickhouse/tables/{{shard}}/{SIM}/ta_microbars"
    assert "'{replica}', ingest_ts)" in out
    other = rewrite_create_table(PRODUCTION, "torghut_sim_sim_20260227_02")
    assert keeper_path(other) != keeper_path(out)


def test_ttl_is_removed_and_everything_else_kept() -> None:
    out = rewrite_create_table(PRODUCTION, SIM)
    assert "TTL" not in out and "toIntervalDay" not in out
    tail = "PARTITION BY toDate(event_ts)\nORDER BY (symbol, event_ts, seq)\nSETTINGS index_granularity"
    assert tail in out
    assert "`window_step` Nullable(String)," in out


def test_ttl_with_delete_and_no_settings_is_removed() -> None:
    ddl = PRODUCTION.replace(
        "TTL toDateTime(event_ts) + toIntervalDay(35)\nSETTINGS index_granularity = 8192",
        "TTL toDateTime(event_ts) + toIntervalDay(35) DELETE, toDateTime(event_ts) + toIntervalDay(7) "
        "TO VOLUME 'cold'",
    )
    out = rewrite_create_table(ddl, SIM)
    assert out.endswith("ORDER BY (symbol, event_ts, seq)")
    assert "VOLUME" not in out


def test_column_ttl_is_removed() -> None:
    ddl = PRODUCTION.replace(
        "`c` Float64,", "`c` Float64 TTL toDateTime(event_ts) + toIntervalDay(1),"
    ).replace(
        "`count` UInt64\n)", "`count` UInt64 CODEC(ZSTD(1)) TTL toDateTime(event_ts) + toIntervalDay(2)\n)"
    )
    out = remove_ttl(ddl)
    assert "TTL" not in out
    assert "`c` Float64,\n" in out
    assert "`count` UInt64 CODEC(ZSTD(1))\n)" in out


def test_ttl_inside_a_string_or_identifier_is_left_alone() -> None:
    ddl = PRODUCTION.replace("`seq` UInt64,", "`TTL` String DEFAULT 'TTL x',")
    out = rewrite_create_table(ddl, SIM)
    assert "`TTL` String DEFAULT 'TTL x'," in out
    assert "toIntervalDay" not in out


def test_backticked_names_and_pinned_uuid() -> None:
    ddl = PRODUCTION.replace(
        "CREATE TABLE torghut.ta_microbars", "CREATE TABLE `torghut`.`ta_microbars` UUID '1234-abcd'"
    )
    out = rewrite_create_table(ddl, SIM)
    assert out.startswith(f"CREATE TABLE IF NOT EXISTS `{SIM}`.`ta_microbars`\n(")
    assert "UUID" not in out


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/clickhouse/tables/{shard}/torghut/ta_signals", f"/clickhouse/tables/{{shard}}/{SIM}/ta_signals"),
        ("/clickhouse/tables/{shard}/ta_signals", f"/clickhouse/tables/{{shard}}/{SIM}/ta_signals"),
        ("/clickhouse/tables/{uuid}/{shard}", "/clickhouse/tables/{uuid}/{shard}"),
        ("/clickhouse/{database}/{table}", "/clickhouse/{database}/{table}"),
    ],
)
def test_unique_keeper_path_rules(path: str, expected: str) -> None:
    assert unique_keeper_path(path, "torghut", SIM) == expected


def test_replicated_engine_without_explicit_path_is_kept() -> None:
    ddl = PRODUCTION.replace(
        f"ReplicatedReplacingMergeTree({ENGINE_ARGS})",
        "ReplicatedReplacingMergeTree",
    )
    out = rewrite_create_table(ddl, SIM)
    assert "ENGINE = ReplicatedReplacingMergeTree\n" in out
    assert keeper_path(out) is None


def test_non_table_statements_are_refused() -> None:
    with pytest.raises(ClickHouseDDLError):
        rewrite_create_table("CREATE VIEW torghut.v AS SELECT 1", SIM)
    with pytest.raises(ClickHouseDDLError):
        rewrite_create_table("CREATE TABLE torghut.t (a UInt8 ENGINE = Log", SIM)
