"""Counts per fixed latency bucket for signal→decision, decision→submit and submit→first event."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import polars as pl

from torghut_sim.report import build_report
from torghut_sim.report.latency_buckets import EDGES_MS, bucket_counts, bucket_labels
from unit.report_builders import RunBuilder, at

MS = timedelta(milliseconds=1)


def test_edges_belong_to_the_bucket_they_start() -> None:
    assert [label for label, _lo, _hi in bucket_labels()][:3] == ["lt_0", "0-50", "50-100"]
    assert bucket_labels()[-1] == ("60000+", 60000, None)
    assert len(bucket_labels()) == len(EDGES_MS) + 1
    values = pl.Series([-0.001, 0.0, 49.999, 50.0, 99.9, 100.0, 59_999.0, 60_000.0, 9e9, None, float("nan")])
    counts = bucket_counts(values)
    by_label = {label: counts[i] for i, (label, _lo, _hi) in enumerate(bucket_labels())}
    assert by_label["lt_0"] == 1
    assert by_label["0-50"] == 2
    assert by_label["50-100"] == 2
    assert by_label["100-250"] == 1
    assert by_label["30000-60000"] == 1
    assert by_label["60000+"] == 2
    assert sum(counts) == 9  # null and NaN are not counted


def test_report_json_csv_and_markdown_hold_the_bucket_counts(tmp_path: Path) -> None:
    b = RunBuilder(tmp_path / "run")
    d1 = b.decision("NVDA", signal_ts=at(0), created_at=at(0) + 50 * MS)  # 50 ms → 50-100
    b.decision("NVDA", signal_ts=at(10), created_at=at(10) - 10 * MS, status="rejected")  # −10 ms → lt_0
    d3 = b.decision("AMD", signal_ts=at(20), created_at=at(20) + 49 * MS)  # 49 ms → 0-50
    b.decision("AMD", status="rejected")  # no signal time: not counted
    b.decision("MU", signal_ts=at(100), created_at=at(175), status="blocked")  # 75 s → 60000+
    e1 = b.execution(d1, "buy", "1", "10", created_at=at(0) + 300 * MS)  # 250 ms → 250-500
    b.order_event(e1, d1, at(0) + 1300 * MS)  # 1000 ms → 1000-2500
    b.execution(d3, "sell", "1", "10", symbol="AMD", created_at=at(20) + 49 * MS)  # 0 ms; no event
    result = build_report(b.write(), with_charts=False)
    doc = json.loads(result.json_path.read_text())
    rows = {r["bucket"]: r for r in doc["execution_quality"]["latency_buckets"]}
    assert list(rows) == [label for label, _lo, _hi in bucket_labels()]
    nonzero = {
        column: {k: r[column] for k, r in rows.items() if r[column]}
        for column in ("signal_to_decision", "decision_to_submit", "submit_to_first_event")
    }
    assert nonzero == {
        "signal_to_decision": {"lt_0": 1, "0-50": 1, "50-100": 1, "60000+": 1},
        "decision_to_submit": {"0-50": 1, "250-500": 1},
        "submit_to_first_event": {"1000-2500": 1},
    }
    assert (rows["lt_0"]["lower_ms"], rows["lt_0"]["upper_ms"]) == (None, 0)
    assert (rows["250-500"]["lower_ms"], rows["250-500"]["upper_ms"]) == (250, 500)
    with (result.out_dir / "latency-buckets.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["bucket"] for r in table] == list(rows)
    assert table[0] == {
        "bucket": "lt_0",
        "lower_ms": "",
        "upper_ms": "0",
        "signal_to_decision": "1",
        "decision_to_submit": "0",
        "submit_to_first_event": "0",
    }
    assert pl.read_parquet(result.out_dir / "latency-buckets.parquet")["decision_to_submit"].sum() == 2
    markdown = result.markdown_path.read_text()
    assert "| 250-500 | 0 | 1 | 0 |" in markdown
    assert "| 1000-2500 | 0 | 0 | 1 |" in markdown
