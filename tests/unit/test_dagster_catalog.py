"""The reports catalog: DuckDB views over every day's report Parquet, new days visible without a rebuild."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from assets.catalog import simulation_catalog
from resources import SimulationConfigResource
from torghut_sim.report import build_report
from torghut_sim.report.catalog import CATALOG_NAME, build_catalog
from unit.report_builders import RunBuilder, at, default_manifest


def _report_day(root: Path, day: str, prices: tuple[str, str]) -> None:
    """A reported run directory of one day: a round trip in NVDA at the two prices."""
    compact = day.replace("-", "")
    manifest = default_manifest()
    manifest["dataset_id"] = f"torghut-trades-{compact}"
    manifest["window"]["trading_day"] = day
    builder = RunBuilder(root / f"sim_{compact}_01", run_id=f"sim-{compact}-01", manifest=manifest)
    for i, (side, price) in enumerate([("buy", prices[0]), ("sell", prices[1])]):
        d = builder.decision("NVDA", run_id=f"sim-{compact}-01", signal_ts=at(60 * i))
        builder.execution(d, side, "1", price, fill_ts=at(60 * i + 1))
    builder.last_price("NVDA", prices[1])
    build_report(builder.write(), with_charts=False)


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_views_span_every_day(tmp_path: Path) -> None:
    _report_day(tmp_path, "2026-03-06", ("10", "13"))
    _report_day(tmp_path, "2026-03-09", ("20", "19"))
    build = build_catalog(tmp_path)
    assert build.path == tmp_path.resolve() / CATALOG_NAME
    assert build.runs == 2
    assert {"runs", "verdicts", "trade_pnl", "execution_latency", "llm_reviews"} <= set(build.views)
    rows = _query(build.path, "SELECT trading_day, run_token, verdict, CAST(net AS DOUBLE) FROM verdicts")
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("2026-03-06", "sim_20260306_01", 3.0),
        ("2026-03-09", "sim_20260309_01", -1.0),
    ]
    per_run = _query(build.path, "SELECT run_token, count(*) FROM trade_pnl GROUP BY 1 ORDER BY 1")
    assert [r[0] for r in per_run] == ["sim_20260306_01", "sim_20260309_01"]


def test_a_day_reported_later_appears_without_a_rebuild(tmp_path: Path) -> None:
    _report_day(tmp_path, "2026-03-06", ("10", "13"))
    build = build_catalog(tmp_path)
    _report_day(tmp_path, "2026-03-10", ("5", "6"))
    assert _query(build.path, "SELECT count(*) FROM runs") == [(2,)]


def test_tables_no_day_has_written_are_left_out_until_a_rebuild(tmp_path: Path) -> None:
    build = build_catalog(tmp_path)
    assert build.views == {} and build.runs == 0
    assert set(build.missing) >= {"runs", "trade_pnl"}
    assert build.path.exists()


def test_the_asset_rebuilds_the_catalog_under_the_output_root(tmp_path: Path) -> None:
    _report_day(tmp_path, "2026-03-06", ("10", "13"))
    config = SimulationConfigResource(template_path="unused.yaml", output_root=str(tmp_path))
    result = dg.materialize([simulation_catalog], resources={"simulation_config": config})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["runs"].value == 1
    assert (metadata["day_runs"].value, metadata["days_not_done"].value) == (1, 0)
    # Every day table is there; only the period views wait for a first period report.
    assert metadata["missing_views"].value == "period_days, period_symbols, period_symbol_days"
    assert Path(str(metadata["catalog"].value)).exists()
