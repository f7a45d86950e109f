"""Counts per latency bucket for the three latencies of the report, beside their percentiles.

Fixed edges in milliseconds: 0, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000. A value v is in
the bucket [lower, upper) (lower inclusive, upper exclusive); `lt_0` holds negative values (clock skew
between writers), `60000+` everything from one minute up. Null latencies (a missing time) are not counted.
"""

from __future__ import annotations

import itertools
from typing import Final

import numpy as np
import polars as pl

from torghut_sim.report.model import LatencyBucket

EDGES_MS: Final = (0, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
COLUMNS: Final = ("signal_to_decision", "decision_to_submit", "submit_to_first_event")


def bucket_labels() -> list[tuple[str, int | None, int | None]]:
    """(label, lower, upper) of every bucket, in order."""
    out: list[tuple[str, int | None, int | None]] = [("lt_0", None, 0)]
    out.extend((f"{lo}-{hi}", lo, hi) for lo, hi in itertools.pairwise(EDGES_MS))
    out.append((f"{EDGES_MS[-1]}+", EDGES_MS[-1], None))
    return out


def bucket_counts(values: pl.Series) -> list[int]:
    """How many of the (non-null) values fall in each bucket."""
    data = values.cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
    # side="right": a value equal to an edge belongs to the bucket that starts there.
    index = np.searchsorted(np.asarray(EDGES_MS, dtype=np.float64), data, side="right")
    counts = np.bincount(index, minlength=len(EDGES_MS) + 1)
    return [int(c) for c in counts]


def latency_buckets(signal_to_decision: pl.Series, latency: pl.DataFrame) -> list[LatencyBucket]:
    """One row per bucket with the count of each latency (signal→decision is per decision)."""
    counts = [
        bucket_counts(signal_to_decision),
        bucket_counts(latency["decision_to_submit_ms"]),
        bucket_counts(latency["submit_to_first_event_ms"]),
    ]
    return [
        LatencyBucket(
            bucket=label,
            lower_ms=lower,
            upper_ms=upper,
            signal_to_decision=counts[0][i],
            decision_to_submit=counts[1][i],
            submit_to_first_event=counts[2][i],
        )
        for i, (label, lower, upper) in enumerate(bucket_labels())
    ]


def latency_bucket_table(buckets: list[LatencyBucket] | None) -> pl.DataFrame:
    """The bucket rows as the `latency-buckets` CSV/Parquet table."""
    schema = {
        "bucket": pl.String,
        "lower_ms": pl.Int64,
        "upper_ms": pl.Int64,
        **{name: pl.Int64 for name in COLUMNS},
    }
    return pl.DataFrame([b.model_dump() for b in buckets or []], schema=schema, orient="row")
