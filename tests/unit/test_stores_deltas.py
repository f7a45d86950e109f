"""Row-count deltas: missing stays distinguishable from empty, and every table on either side shows."""

from __future__ import annotations

from torghut_sim.stores.deltas import row_deltas


def test_deltas_per_table() -> None:
    deltas = row_deltas("postgres", {"a": 2, "b": None}, {"a": 5, "b": 3, "c": 1})
    assert [(d.table, d.before, d.after, d.delta) for d in deltas] == [
        ("a", 2, 5, 3),
        ("b", None, 3, 3),
        ("c", None, 1, 1),
    ]
    assert deltas[1].to_json() == {"store": "postgres", "table": "b", "before": None, "after": 3, "delta": 3}


def test_rows_that_went_away_are_negative() -> None:
    assert row_deltas("clickhouse", {"t": 4}, {"t": 1})[0].delta == -3
