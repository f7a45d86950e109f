"""Builders of output roots for the period report tests: real day reports, edited to hand-sized P&L."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from torghut_sim.layout import RunPaths
from torghut_sim.naming import names_for_day
from torghut_sim.report import build_report
from unit.report_builders import RunBuilder, at, default_manifest, dump_marker

# symbol → (fills, realized, unrealized, costs); gross and net follow.
SymbolFigures = dict[str, tuple[int, str, str, str]]


def template_document(root: Path) -> dict[str, Any]:
    """One real report of a small day: the shape every edited day keeps (build it once per session)."""
    builder = RunBuilder(root / "template")
    d = builder.decision("NVDA", signal_ts=at(0))
    builder.execution(d, "buy", "1", "10", fill_ts=at(1))
    builder.last_price("NVDA", "11")
    document: dict[str, Any] = json.loads(
        build_report(builder.write(), with_charts=False).json_path.read_text()
    )
    return document


def day_paths(root: Path, day: date) -> RunPaths:
    """The run directory of a day's first run under an output root."""
    return RunPaths(root / names_for_day(day).run_token)


def _money(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def report_document(
    template: dict[str, Any],
    day: date,
    symbols: SymbolFigures,
    *,
    verdict: str = "PASS",
    reasons: tuple[str, ...] = (),
    runtime_metrics: dict[str, Any] | None = None,
    decisions: int = 10,
    executions: int = 8,
) -> dict[str, Any]:
    """A real report's JSON with the day, verdict and P&L replaced by the given figures."""
    doc = copy.deepcopy(template)
    names = names_for_day(day)
    doc["run_metadata"].update(run_id=names.run_id, run_token=names.run_token, trading_day=day.isoformat())
    doc["verdict"] = {
        "status": verdict,
        "reasons": [{"code": c, "severity": "warn", "message": c.replace("_", " ")} for c in reasons],
    }
    doc["funnel"].update(decisions=decisions, executions=executions)
    rows = []
    total = dict.fromkeys(("realized", "unrealized", "gross", "costs", "net", "turnover"), Decimal(0))
    fills = 0
    template_row = doc["pnl"]["by_symbol"][0]
    for symbol, (n, realized, unrealized, costs) in sorted(symbols.items()):
        figures = {
            "realized": Decimal(realized),
            "unrealized": Decimal(unrealized),
            "costs": Decimal(costs),
            "turnover": Decimal(100 * n),
        }
        figures["gross"] = figures["realized"] + figures["unrealized"]
        figures["net"] = figures["gross"] - figures["costs"]
        row = copy.deepcopy(template_row)
        row.update({k: _money(v) for k, v in figures.items()}, symbol=symbol, fills=n)
        row.update(closing_fills=n // 2, wins=n // 4, losses=n // 2 - n // 4)
        rows.append(row)
        fills += n
        for key in total:
            total[key] += figures[key]
    doc["pnl"].update({k: _money(v) for k, v in total.items()}, fills=fills, by_symbol=rows)
    doc["pnl"].update(
        closing_fills=sum(r["closing_fills"] for r in rows),
        wins=sum(r["wins"] for r in rows),
        losses=sum(r["losses"] for r in rows),
        max_drawdown="1.5",
    )
    if runtime_metrics is not None:
        doc["runtime_metrics"] = runtime_metrics
    return doc


def write_report_day(root: Path, day: date, document: dict[str, Any]) -> Path:
    """A run directory whose run succeeded and whose report is `document`."""
    paths = day_paths(root, day)
    paths.report_dir.mkdir(parents=True, exist_ok=True)
    paths.dump_marker.write_text(json.dumps(dump_marker()))
    paths.run_state.write_text(json.dumps({"status": "succeeded", "transitions": []}))
    (paths.report_dir / "simulation-report.json").write_text(json.dumps(document, indent=2))
    return paths.root


def write_empty_day(root: Path, day: date) -> None:
    """A run directory whose dump found no records."""
    paths = day_paths(root, day)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.dump_marker.write_text(json.dumps(dump_marker(ratio=0.0, status="empty_day")))


def write_failed_day(root: Path, day: date, phase: str = "replay", reason: str = "replay_failed") -> None:
    """A run directory whose run failed in `phase`."""
    paths = day_paths(root, day)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.dump_marker.write_text(json.dumps(dump_marker()))
    transitions = [
        {"phase": phase, "status": "failed", "details": {"reason": reason}},
        {"phase": "run", "status": "failed", "details": {"failed_phase": phase, "cleanup_failed": []}},
    ]
    paths.run_state.write_text(json.dumps({"status": "failed", "transitions": transitions}))


def real_day(root: Path, day: date, prices: tuple[str, str]) -> Path:
    """A day simulated for real in the builders: a round trip in NVDA at the two prices, reported."""
    names = names_for_day(day)
    manifest = default_manifest()
    manifest["dataset_id"] = names.dataset_id
    manifest["window"]["trading_day"] = day.isoformat()
    builder = RunBuilder(root / names.run_token, run_id=names.run_id, manifest=manifest)
    for i, (side, price) in enumerate([("buy", prices[0]), ("sell", prices[1])]):
        d = builder.decision("NVDA", run_id=names.run_id, signal_ts=at(60 * i))
        builder.execution(d, side, "1", price, fill_ts=at(60 * i + 1))
    builder.last_price("NVDA", prices[1])
    build_report(builder.write(), with_charts=False)
    return builder.root
