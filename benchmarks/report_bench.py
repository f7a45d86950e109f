"""Benchmark of the report engine on a generated full trading day, against polars reading its inputs.

    .venv/bin/python benchmarks/report_bench.py [--dir DIR] [--out DIR] [--no-charts] [--repeat 3]
        [--compare REFERENCE_BUNDLE] [--breakdown]

Generates 200k decisions, 200k executions, 800k order events, 200k TCA rows and 100k LLM reviews
with the exact export schemas. Each round runs two fresh processes: one reads every input Parquet file
with polars (the floor), one builds the report (so its peak RSS is the report's own); the figures are
the median round's. Target: the build within 3 x the read, under 600 MB peak RSS. Builds are stamped
with a fixed generation time, so `--compare` proves a bundle byte-identical to one built earlier.
Measured (2 shared cores, load ~0.5-1): 4.1-4.5 x the read with charts (1.2-1.4 s CPU against a
0.2 s read), 543-563 MB. 3 x is not met: `--breakdown` times a third child per round that loads
and computes every section but writes no file, and that alone measured 2.8-3.7 x the read.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from torghut_sim.calendar import session_window
from torghut_sim.export_schema import EXPORT_SCHEMAS
from torghut_sim.layout import RunPaths
from torghut_sim.naming import names_for_day
from torghut_sim.report import build_report
from torghut_sim.report.api import compute
from torghut_sim.report.inputs import load_run

DAY = date(2026, 3, 6)
SYMBOLS = ("NVDA", "AVGO", "AMD", "MU", "MRVL", "CRDO", "COHR", "LITE", "SNDK", "WDC")
# Every build of the benchmark is stamped with this time, so bundles compare byte for byte.
GENERATED_AT = datetime(2026, 3, 7, 1, tzinfo=UTC)
DECISIONS = 200_000
EVENTS_PER_EXECUTION = 4
REVIEWS = 100_000
SCALE = 10**10


def _decimal(values: npt.NDArray[np.int64]) -> pa.Array:
    """decimal128(38, 10) from integers already scaled by 10¹⁰ (int64 → little-endian int128)."""
    pairs = np.empty((len(values), 2), dtype=np.int64)
    pairs[:, 0] = values
    pairs[:, 1] = values >> 63
    return pa.Array.from_buffers(pa.decimal128(38, 10), len(values), [None, pa.py_buffer(pairs.tobytes())])


def _ts(values: npt.NDArray[np.int64]) -> pa.Array:
    return pa.array(values, type=pa.timestamp("us", tz="UTC"))


def _ids(prefix: str, n: int) -> pa.Array:
    return pa.array([f"{prefix}{i:08d}" for i in range(n)])


def _write(paths: RunPaths, table: str, columns: dict[str, pa.Array]) -> None:
    schema = EXPORT_SCHEMAS[table]
    n = len(next(iter(columns.values())))
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in schema]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), paths.output_table(table), compression="zstd")


def generate(root: Path, day: date = DAY, decisions: int = DECISIONS, seed: int = 7) -> None:
    """Write a full-day run directory with the benchmark's volumes (defaults: the 2026-03-06 day)."""
    rng = np.random.default_rng(seed)
    paths = RunPaths(root)
    paths.outputs_dir.mkdir(parents=True, exist_ok=True)
    window = session_window(day)
    open_us = int(window.session_start.timestamp()) * 1_000_000
    session_us = window.session_minutes * 60 * 1_000_000
    names = names_for_day(day)
    run_id = names.run_id
    n = decisions
    signal = np.sort(open_us + rng.integers(0, session_us, n))
    decided = signal + rng.integers(1_000, 2_000_000, n)
    submitted = decided + rng.integers(500, 200_000, n)
    sym_idx = rng.integers(0, len(SYMBOLS), n)
    symbols = pa.array(np.asarray(SYMBOLS, dtype=object)[sym_idx])
    iso = np.datetime_as_string(signal.astype("datetime64[us]"), unit="us")
    docs = pa.array(
        [
            f'{{"params":{{"simulation_context":{{"signal_event_ts":"{s}Z","simulation_run_id":"{run_id}"}}}},'
            f'"event_ts":"{s}Z"}}'
            for s in iso
        ]
    )
    decision_ids = _ids("d", n)
    _write(
        paths,
        "trade_decisions",
        {
            "id": decision_ids,
            "strategy_id": pa.array(np.where(sym_idx % 2, "tsmom_v1", "meanrev_v2").astype(object)),
            "alpaca_account_label": pa.array(["paper"] * n),
            "symbol": symbols,
            "timeframe": pa.array(["1Min"] * n),
            "decision_json": docs,
            "status": pa.array(["executed"] * n),
            "created_at": _ts(decided),
        },
    )
    # Prices: a random walk per symbol around 100, in ten-thousandths.
    walk = 100 * 10_000 + np.cumsum(rng.integers(-50, 51, n))
    price = (walk + sym_idx * 10_000) * (SCALE // 10_000)
    qty = rng.integers(1, 100, n) * SCALE
    filled = np.where(rng.random(n) < 0.95, qty, 0)
    status = np.where(filled > 0, "filled", "canceled").astype(object)
    execution_ids = _ids("e", n)
    _write(
        paths,
        "executions",
        {
            "id": execution_ids,
            "trade_decision_id": decision_ids,
            "alpaca_order_id": _ids("o", n),
            "client_order_id": _ids("c", n),
            "symbol": symbols,
            "side": pa.array(np.where(rng.random(n) < 0.5, "buy", "sell").astype(object)),
            "order_type": pa.array(["market"] * n),
            "time_in_force": pa.array(["day"] * n),
            "submitted_qty": _decimal(qty),
            "filled_qty": _decimal(filled),
            "avg_fill_price": _decimal(price),
            "status": pa.array(status),
            "created_at": _ts(submitted),
            "last_update_at": _ts(submitted + 5_000),
            "order_feed_last_event_ts": _ts(submitted + 5_000),
            "execution_expected_adapter": pa.array(["simulation"] * n),
            "execution_actual_adapter": pa.array(["simulation"] * n),
            "execution_fallback_count": pa.array(np.zeros(n, dtype=np.int64)),
        },
    )
    m = n * EVENTS_PER_EXECUTION
    owner = np.repeat(np.arange(n), EVENTS_PER_EXECUTION)
    _write(
        paths,
        "execution_order_events",
        {
            "id": _ids("ev", m),
            "execution_id": execution_ids.take(pa.array(owner)),
            "trade_decision_id": decision_ids.take(pa.array(owner)),
            "source_topic": pa.array(["torghut.sim.trade-updates.v1"] * m),
            "source_partition": pa.array(np.zeros(m, dtype=np.int32)),
            "source_offset": pa.array(np.arange(m, dtype=np.int64)),
            "event_ts": _ts(submitted[owner] + rng.integers(1_000, 100_000, m)),
            "symbol": symbols.take(pa.array(owner)),
            "event_type": pa.array(
                np.tile(np.array(["new", "accepted", "partial_fill", "fill"], dtype=object), n)
            ),
            "status": pa.array(["filled"] * m),
            "qty": _decimal(qty[owner]),
            "filled_qty": _decimal(filled[owner]),
            "avg_fill_price": _decimal(price[owner]),
            "created_at": _ts(submitted[owner]),
        },
    )
    _write(
        paths,
        "execution_tca_metrics",
        {
            "execution_id": execution_ids,
            "trade_decision_id": decision_ids,
            "strategy_id": pa.array(["tsmom_v1"] * n),
            "symbol": symbols,
            "side": pa.array(["buy"] * n),
            "filled_qty": _decimal(filled),
            "avg_fill_price": _decimal(price),
            "arrival_price": _decimal(price),
            "shortfall_notional": _decimal(rng.integers(-(10**6), 10**6, n) * SCALE // 100),
            "slippage_bps": _decimal(rng.integers(-500, 500, n) * SCALE // 100),
            "realized_shortfall_bps": _decimal(rng.integers(-500, 500, n) * SCALE // 100),
            "divergence_bps": _decimal(rng.integers(-500, 500, n) * SCALE // 100),
            "computed_at": _ts(submitted),
        },
    )
    r = min(REVIEWS, n // 2)
    reviewed = rng.choice(n, r, replace=False)
    verdicts = np.array(["approve", "veto", "adjust", "abstain", "escalate", "error"], dtype=object)
    _write(
        paths,
        "llm_decision_reviews",
        {
            "id": _ids("r", r),
            "trade_decision_id": decision_ids.take(pa.array(reviewed)),
            "model": pa.array(np.where(rng.random(r) < 0.5, "gpt-a", "gpt-b").astype(object)),
            "prompt_version": pa.array(np.where(rng.random(r) < 0.5, "v1", "v2").astype(object)),
            "verdict": pa.array(verdicts[rng.choice(6, r, p=[0.6, 0.2, 0.1, 0.05, 0.04, 0.01])]),
            "confidence": _decimal(rng.integers(0, 100, r) * SCALE // 100),
            "tokens_prompt": pa.array(rng.integers(200, 2000, r)),
            "tokens_completion": pa.array(rng.integers(10, 200, r)),
            "risk_flags": pa.array(["[]"] * r),
            "response_json": pa.array(
                np.where(rng.random(r) < 0.1, '{"fallback": true}', "{}").astype(object)
            ),
            "created_at": _ts(submitted[reviewed]),
        },
    )
    _write(
        paths,
        "last_prices",
        {
            "symbol": pa.array(list(SYMBOLS)),
            "last_price": _decimal(np.arange(len(SYMBOLS), dtype=np.int64) * SCALE + 100 * SCALE),
            "last_event_ts": _ts(np.full(len(SYMBOLS), open_us + session_us)),
        },
    )
    for table in ("trade_cursor", "simulation_run_progress", "clickhouse_counts"):
        _write(
            paths, table, {EXPORT_SCHEMAS[table].names[0]: pa.array([], type=EXPORT_SCHEMAS[table][0].type)}
        )
    manifest = {
        "dataset_id": names.dataset_id,
        "window": {
            "trading_day": day.isoformat(),
            "start": window.session_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": window.session_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "strict_coverage_ratio": 0.95,
        },
        "reporting": {"commission_bps": "0.5", "per_trade_fee": "0.01"},
    }
    paths.manifest.write_text(yaml.safe_dump(manifest))
    paths.dump_marker.write_text(
        json.dumps(
            {
                "records": 10_000_000,
                "status": "ok",
                "coverage": {
                    "session_minutes": window.session_minutes,
                    "covered_minutes": window.session_minutes,
                    "ratio": 1.0,
                },
            }
        )
    )
    paths.run_state.write_text(
        json.dumps({"run_id": run_id, "run_token": names.run_token, "transitions": []})
    )


def read_inputs(root: Path) -> None:
    """The floor: read every input Parquet file of the day with polars; print wall and CPU as JSON."""
    start = time.perf_counter()
    cpu_start = time.process_time()
    rows = sum(pl.read_parquet(path).height for path in sorted(RunPaths(root).outputs_dir.glob("*.parquet")))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(json.dumps({"wall": wall, "cpu": cpu, "rows": rows}))


def build(root: Path, out: Path | None, charts: bool) -> None:
    """Build the report (fixed generation time) and print wall, CPU and this process's peak RSS as JSON."""
    start = time.perf_counter()
    cpu_start = time.process_time()
    result = build_report(root, out, generated_at=GENERATED_AT, with_charts=charts)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "peak_mb": peak_mb,
                "verdict": result.verdict,
                "fills": result.report.pnl.fills,
                "order_events": result.report.funnel.order_events,
                "out": str(result.out_dir),
            }
        )
    )


def compute_only(root: Path) -> None:
    """Load the run and compute every section, writing no file; print wall and CPU as JSON.

    What the build costs beyond this is writing the bundle (CSV, Parquet, charts, Markdown, JSON)."""
    start = time.perf_counter()
    cpu_start = time.process_time()
    computed = compute(load_run(root), GENERATED_AT)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(json.dumps({"wall": wall, "cpu": cpu, "fills": computed.draft.pnl.fills}))


def _child(args: list[str]) -> dict[str, Any]:
    """Run one phase in a fresh process (its own imports and peak RSS); its last line is JSON."""
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def compare_trees(built: Path, reference: Path) -> list[str]:
    """Files that differ between two report bundles (missing on either side counts)."""
    a = {p.relative_to(built).as_posix(): p for p in built.rglob("*") if p.is_file()}
    b = {p.relative_to(reference).as_posix(): p for p in reference.rglob("*") if p.is_file()}
    return sorted(
        n for n in a.keys() | b.keys() if n not in a or n not in b or a[n].read_bytes() != b[n].read_bytes()
    )


def main() -> int:
    """Generate the day (unless it exists), then rounds of: read the inputs, build the report (children)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="run directory (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=None, help="report directory (default <dir>/report)")
    parser.add_argument("--no-charts", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; figures are the median round's")
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="a bundle built earlier from the same day: exit 1 unless byte-identical",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time, each round, loading and computing every section without writing any file",
    )
    parser.add_argument(
        "--phase", choices=["all", "build", "read", "compute"], default="all", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.phase == "build":
        build(args.dir, args.out, charts=not args.no_charts)
        return 0
    if args.phase == "read":
        read_inputs(args.dir)
        return 0
    if args.phase == "compute":
        compute_only(args.dir)
        return 0
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        root = args.dir or Path(tmp) / "sim_20260306_01"
        if not RunPaths(root).output_table("executions").is_file():
            start = time.perf_counter()
            generate(root)
            print(f"generated {root} in {time.perf_counter() - start:.1f} s")
        build_args = ["--phase", "build", "--dir", str(root)]
        if args.out is not None:
            build_args += ["--out", str(args.out)]
        if args.no_charts:
            build_args.append("--no-charts")
        rounds = []
        computed_ratios: list[float] = []
        for n in range(1, args.repeat + 1):
            read = _child(["--phase", "read", "--dir", str(root)])
            built = _child(build_args)
            ratio = built["wall"] / read["wall"]
            rounds.append((ratio, read, built))
            print(
                f"round {n}: polars read {read['wall']:.2f} s ({read['cpu']:.2f} s CPU), "
                f"build_report {built['wall']:.2f} s ({built['cpu']:.2f} s CPU), "
                f"{ratio:.1f} x the read, peak RSS {built['peak_mb']:.0f} MB"
            )
            if args.breakdown:
                computed = _child(["--phase", "compute", "--dir", str(root)])
                computed_ratios.append(computed["wall"] / read["wall"])
                print(
                    f"round {n}: load + compute, no file written {computed['wall']:.2f} s "
                    f"({computed['cpu']:.2f} s CPU), {computed_ratios[-1]:.1f} x the read"
                )
        ratio, read, built = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
        print(
            f"median: build_report {built['wall']:.2f} s wall = {ratio:.1f} x polars reading the inputs "
            f"({read['wall']:.2f} s); CPU {built['cpu']:.2f} s = {built['cpu'] / read['cpu']:.1f} x; "
            f"peak RSS {built['peak_mb']:.0f} MB; charts {'off' if args.no_charts else 'on'}; "
            f"verdict {built['verdict']}, fills {built['fills']}, order events {built['order_events']}"
        )
        if computed_ratios:
            median = sorted(computed_ratios)[len(computed_ratios) // 2]
            print(
                f"median: load + compute without writing {median:.1f} x the read "
                "(the rest of the build is writing the bundle)"
            )
        if args.compare is not None:
            differing = compare_trees(Path(built["out"]), args.compare)
            print(
                f"compared with {args.compare}: "
                + (f"DIFFERENT {differing}" if differing else "byte-identical")
            )
            return 1 if differing else 0
        return 0


if __name__ == "__main__":
    sys.exit(main())
