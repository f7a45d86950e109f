"""The period report in Dagster and DuckDB: weekly and monthly partitions over the days, catalog views."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from assets.partitions import trading_day_partitions
from assets.period import build_period_assets, period_partitions
from resources import SimulationConfigResource
from torghut_sim.report.catalog import build_catalog
from torghut_sim.report.period import build_period_report
from unit.period_builders import real_day, write_empty_day

START = date(2026, 1, 2)


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_partitions_are_monday_weeks_and_calendar_months() -> None:
    weekly, monthly = period_partitions(START)
    assert weekly.get_first_partition_key() == "2025-12-29"
    window = weekly.time_window_for_partition_key("2026-02-16")
    assert (window.start.isoformat(), window.end.isoformat()) == (
        "2026-02-16T00:00:00-05:00",
        "2026-02-23T00:00:00-05:00",
    )
    assert monthly.get_first_partition_key() == "2026-01-01"


def test_a_week_depends_on_its_day_reports() -> None:
    weekly, _ = period_partitions(START)
    daily = trading_day_partitions(START)
    mapped = dg.TimeWindowPartitionMapping().get_upstream_mapped_partitions_result_for_partitions(
        weekly.subset_with_partition_keys(["2026-03-09"]), weekly, daily
    )
    assert list(mapped.partitions_subset.get_partition_keys()) == [
        "2026-03-09",
        "2026-03-10",
        "2026-03-11",
        "2026-03-12",
        "2026-03-13",
    ]


@pytest.mark.parametrize(
    ("asset_name", "partition", "expected"),
    [
        ("weekly_period_report", "2026-03-02", ("2026-03-02_2026-03-08", 5, 2)),
        ("monthly_period_report", "2026-03-01", ("2026-03-01_2026-03-31", 22, 2)),
    ],
)
def test_the_assets_build_the_partitions_period(
    tmp_path: Path, asset_name: str, partition: str, expected: tuple[str, int, int]
) -> None:
    real_day(tmp_path, date(2026, 3, 5), ("10", "13"))
    real_day(tmp_path, date(2026, 3, 6), ("20", "19"))
    write_empty_day(tmp_path, date(2026, 3, 4))
    assets = {a.key.to_user_string(): a for a in build_period_assets(START)}
    config = SimulationConfigResource(template_path="unused.yaml", output_root=str(tmp_path))
    result = dg.materialize(
        [assets[asset_name]], partition_key=partition, resources={"simulation_config": config}
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    period_id, days, reported = expected
    assert (metadata["period_id"].value, metadata["trading_days"].value) == (period_id, days)
    assert metadata["days_reported"].value == reported
    assert metadata["net_pnl"].value == 2.0
    assert "2026-03-04 empty_day" in metadata["days_without_report"].value
    assert Path(str(metadata["report_json"].value)).is_file()


def test_catalog_views_read_every_period(tmp_path: Path) -> None:
    real_day(tmp_path, date(2026, 3, 6), ("10", "13"))
    real_day(tmp_path, date(2026, 3, 9), ("20", "19"))
    build_period_report(tmp_path, date(2026, 3, 2), date(2026, 3, 8), with_charts=False)
    build_period_report(tmp_path, date(2026, 3, 1), date(2026, 3, 31), with_charts=False)
    build = build_catalog(tmp_path)
    assert {"period_days", "period_symbols", "period_symbol_days"} <= set(build.views)
    assert build.runs == 2  # a period's files are not a day's
    rows = _query(
        build.path,
        "SELECT period_id, count(*), count(net), CAST(sum(net) AS DOUBLE) FROM period_days "
        "GROUP BY 1 ORDER BY 1",
    )
    assert rows == [("2026-03-01_2026-03-31", 22, 2, 2.0), ("2026-03-02_2026-03-08", 5, 1, 3.0)]
    statuses = _query(
        build.path,
        "SELECT status, count(*) FROM period_days WHERE period_id = '2026-03-02_2026-03-08' "
        "GROUP BY 1 ORDER BY 1",
    )
    assert statuses == [("not_run", 4), ("reported", 1)]
    symbols = _query(build.path, "SELECT period_id, symbol, days_traded FROM period_symbols ORDER BY 1")
    assert symbols == [("2026-03-01_2026-03-31", "NVDA", 2), ("2026-03-02_2026-03-08", "NVDA", 1)]


def test_the_first_week_may_start_before_the_first_day_partition(tmp_path: Path) -> None:
    weekly = {a.key.to_user_string(): a for a in build_period_assets(START)}["weekly_period_report"]
    config = SimulationConfigResource(template_path="unused.yaml", output_root=str(tmp_path))
    result = dg.materialize([weekly], partition_key="2025-12-29", resources={"simulation_config": config})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    # 2026-01-01 is a holiday: four trading days, none run yet, all listed.
    assert (metadata["period_id"].value, metadata["trading_days"].value) == ("2025-12-29_2026-01-04", 4)
    assert metadata["days_reported"].value == 0
