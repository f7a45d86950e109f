"""The whole bundle: files, determinism, the committed JSON Schema, Markdown and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import polars as pl
import pytest

from torghut_sim import cli
from torghut_sim.report import build_report
from torghut_sim.report.schema import SCHEMA_PATH, report_json_schema, schema_text
from unit.report_builders import RunBuilder, at

FILES = (
    "simulation-report.json",
    "simulation-report.md",
    "trade-pnl.csv",
    "execution-latency.csv",
    "llm-review-summary.csv",
    "trade-pnl.parquet",
    "execution-latency.parquet",
    "llm-review-summary.parquet",
    "equity-curve.csv",
    "latency-buckets.csv",
    "latency-buckets.parquet",
    "report-summary.parquet",
    "charts/equity-curve.svg",
    "charts/funnel.svg",
    "charts/latency.svg",
    "charts/pnl-by-symbol.svg",
)


def _populated(root: Path) -> Path:
    builder = RunBuilder(root)
    for i, (symbol, side, qty, price) in enumerate(
        [
            ("NVDA", "buy", "2", "10"),
            ("AMD", "sell", "3", "150.25"),
            ("NVDA", "sell", "1", "13"),
            ("AMD", "buy", "1", "149"),
        ]
    ):
        d = builder.decision(symbol, signal_ts=at(60 * i))
        e = builder.execution(d, side, qty, price, symbol=symbol, fill_ts=at(60 * i + 2))
        builder.order_event(e, d, at(60 * i + 1.5))
        builder.tca(e, d, shortfall="0.1", slippage="1.5")
        builder.review(d, "approve" if i % 2 else "adjust", confidence="0.75")
    builder.last_price("NVDA", "12")
    builder.last_price("AMD", "151")
    builder.progress("torghut")
    return builder.write()


def _tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_bundle_has_every_file(tmp_path: Path) -> None:
    result = build_report(_populated(tmp_path / "run"))
    assert result.out_dir == tmp_path / "run" / "report"
    present = set(_tree(result.out_dir))
    assert set(FILES) <= present
    assert result.verdict == "PASS"
    trades = pl.read_parquet(result.out_dir / "trade-pnl.parquet")
    assert trades.height == 4
    assert trades["realized_pnl"].sum() == pytest.approx(3 + 1.25)  # NVDA +3, AMD short 1 covered 1.25


def test_identical_inputs_give_identical_bytes(tmp_path: Path) -> None:
    run = _populated(tmp_path / "run")
    first = build_report(run, tmp_path / "a", generated_at=datetime(2026, 3, 7, 1, tzinfo=UTC))
    second = build_report(run, tmp_path / "b", generated_at=datetime(2026, 3, 8, 2, tzinfo=UTC))
    a, b = _tree(first.out_dir), _tree(second.out_dir)
    assert a.keys() == b.keys()
    differing = sorted(name for name in a if a[name] != b[name])
    assert differing == ["simulation-report.json", "simulation-report.md"]
    for name in differing:
        # Apart from the generation time, the documents are identical.
        assert a[name].replace(b"2026-03-07T01:00:00Z", b"T") == b[name].replace(
            b"2026-03-08T02:00:00Z", b"T"
        )


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "run `python -m torghut_sim.report.schema` and commit the result"
    )


def test_report_validates_against_schema(tmp_path: Path) -> None:
    result = build_report(_populated(tmp_path / "run"), with_charts=False)
    document = json.loads(result.json_path.read_text())
    jsonschema.Draft202012Validator(report_json_schema()).validate(document)
    assert document["schema_version"] == "torghut.simulation-report.v1"
    assert document["pnl"]["realized"] == "4.25"
    assert list(document) == [
        "schema_version",
        "run_metadata",
        "coverage",
        "funnel",
        "execution_quality",
        "pnl",
        "llm",
        "runtime_metrics",
        "stability",
        "verdict",
        "artifacts",
        "caveats",
    ]


def test_schema_rejects_a_float_money_field(tmp_path: Path) -> None:
    result = build_report(_populated(tmp_path / "run"), with_charts=False)
    document = json.loads(result.json_path.read_text())
    document["pnl"]["realized"] = 4.25
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, report_json_schema())


def test_empty_run_still_reports_fail(tmp_path: Path) -> None:
    run = RunBuilder(tmp_path / "run").write(coverage=None, replay=False, run_state=False)
    result = build_report(run, with_charts=False)
    assert result.verdict == "FAIL"
    markdown = result.markdown_path.read_text()
    assert markdown.startswith("# Simulation report — run\n\n**Verdict: FAIL**")
    assert "`decisions_below_minimum`" in markdown
    assert "`input_missing`" in markdown


def test_markdown_summary_leads_with_verdict_and_embeds_charts(tmp_path: Path) -> None:
    result = build_report(_populated(tmp_path / "run"))
    lines = result.markdown_path.read_text().splitlines()
    assert lines[2].startswith("**Verdict: PASS**")
    assert "![Equity and drawdown](charts/equity-curve.svg)" in lines
    assert "| NVDA | 2 | 3 | 2 | 0 | 5 | 1 | 12 | last_price |" in lines


def test_cli_builds_and_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _populated(tmp_path / "run")
    out = tmp_path / "out"
    assert cli.main(["report", "--run-dir", str(run), "--out", str(out)]) == 0
    assert (out / "simulation-report.json").is_file()
    assert capsys.readouterr().out.startswith("PASS ")


def test_cli_fail_on_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = RunBuilder(tmp_path / "run").write()
    assert cli.main(["report", "--run-dir", str(run), "--no-charts"]) == 0
    assert not (run / "report" / "charts").exists()
    assert cli.main(["report", "--run-dir", str(run), "--no-charts", "--fail-on", "warn"]) == 3
    assert cli.main(["report", "--run-dir", str(run), "--no-charts", "--fail-on", "fail"]) == 3
    assert capsys.readouterr().out.splitlines()[-1].startswith("FAIL decisions_below_minimum,")


def test_cli_missing_run_dir_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "--run-dir", str(tmp_path / "missing")]) == 1
    assert "[report_run_dir_missing]" in capsys.readouterr().err


def test_cli_usage_error_exits_two() -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["report"])
    assert info.value.code == 2
