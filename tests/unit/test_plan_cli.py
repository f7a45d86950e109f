"""`torghut-sim plan`: JSON plan on stdout, exit codes 0/1/2, one-line errors, written run dirs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from torghut_sim import cli
from torghut_sim.day_manifest import DEFAULT_TEMPLATE, LOCAL_TEMPLATE
from torghut_sim.manifest import load_manifest


@pytest.fixture(autouse=True)
def only_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the parser with this module's subcommand only, independent of the others' progress."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("plan",))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["plan", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _usage(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["plan", *argv])
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_one_day_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, "--date", "2026-03-09", "--output-root", str(tmp_path))
    assert code == 0, err
    plan = json.loads(out)
    assert plan["ok"] is True
    assert plan["run_id"] == "sim-20260309-01"
    assert (plan["window"]["start"], plan["window"]["end"]) == (
        "2026-03-09T13:30:00Z",
        "2026-03-09T20:00:00Z",
    )
    assert plan["window"]["min_coverage_minutes"] == 390
    assert plan["names"]["postgres_database"] == "torghut_sim_sim_20260309_01"
    assert all(g["ok"] for g in plan["guards"])
    assert plan["connections"]["postgres"]["admin_dsn"] == (
        "postgresql://postgres:***@torghut-db-rw.torghut.svc.cluster.local:5432/postgres"
    )
    assert plan["runtime_env"]["DB_DSN"].startswith("postgresql://torghut_app:***@")
    assert not list(tmp_path.iterdir())  # nothing written without --write


def test_early_close_with_buffers_and_sequence(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "--date",
        "2026-11-27",
        "--sequence",
        "3",
        "--pre-buffer-minutes",
        "15",
        "--post-buffer-minutes",
        "5",
    )
    assert code == 0
    plan = json.loads(out)
    assert plan["run_id"] == "sim-20261127-03"
    assert plan["window"]["end"] == "2026-11-27T18:00:00Z"
    assert plan["window"]["dump_start"] == "2026-11-27T14:15:00Z"
    assert plan["window"]["dump_end"] == "2026-11-27T18:05:00Z"
    assert plan["window"]["min_coverage_minutes"] == 210
    assert plan["calendar"]["early_close"] is True


def test_range_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--from", "2026-04-01", "--to", "2026-04-07", "--max-parallel-days", "2")
    assert code == 0
    plan = json.loads(out)
    assert plan["batches"] == [["sim-20260401-01", "sim-20260402-01"], ["sim-20260406-01", "sim-20260407-01"]]
    assert {"date": "2026-04-03", "reason": "holiday"} in plan["skipped"]
    assert len(plan["days"]) == 4


def test_skip_empty_plans_a_holiday(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--date", "2026-04-03", "--calendar-filter", "skip-empty")
    assert code == 0
    plan = json.loads(out)
    assert plan["calendar"]["is_trading_day"] is False
    assert plan["ok"] is True


def test_holiday_under_strict_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--date", "2026-04-03")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert "[not_a_trading_day]" in err and "2026-04-03" in err
    assert "Traceback" not in err


def test_guard_refusal_prints_plan_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    template = yaml.safe_load(DEFAULT_TEMPLATE.read_text())
    template["torghut_env_overrides"]["TRADING_MODE"] = "live"
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    out_root = tmp_path / "out"
    code, out, err = _run(
        capsys, "--date", "2026-03-06", "--template", str(path), "--output-root", str(out_root), "--write"
    )
    assert code == 1
    assert json.loads(out)["ok"] is False
    assert err.count("\n") == 1
    assert "[env_override_not_allowed]" in err and "TRADING_MODE" in err
    assert "Traceback" not in err
    assert not out_root.exists()


def test_invalid_template_is_one_line_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("kafka: {}\n")
    code, _, err = _run(capsys, "--date", "2026-03-06", "--template", str(path))
    assert code == 1
    assert err.count("\n") == 1 and "[invalid_manifest]" in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--date", "2026-13-01"), "not a date"),
        (("--date", "yesterday"), "not a date"),
        (("--from", "2026-03-02"), "--from and --to"),
        (("--from", "2026-03-09", "--to", "2026-03-02"), "after"),
        (("--date", "2026-03-06", "--from", "2026-03-02", "--to", "2026-03-06"), "cannot be combined"),
        (("--date", "2026-03-06", "--sequence", "0"), "between 1 and 99"),
        (("--date", "2026-03-06", "--pre-buffer-minutes", "-5"), ">= 0"),
        (("--date", "2026-03-06", "--calendar-filter", "loose"), "invalid choice"),
        (("--date", "2026-03-06", "--template", "/nonexistent/template.yaml"), "does not exist"),
        ((), "give --date"),
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], fragment: str
) -> None:
    assert fragment in _usage(capsys, *argv)


def test_write_creates_manifest_and_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(
        capsys, "--from", "2026-03-06", "--to", "2026-03-09", "--output-root", str(tmp_path), "--write"
    )
    assert code == 0
    batch = json.loads(out)
    for day in batch["days"]:
        run_dir = tmp_path / day["run_token"]
        manifest = load_manifest(run_dir / "manifest.yaml")
        assert manifest.dataset_id == day["dataset_id"]
        assert manifest.clickhouse.simulation_database == day["names"]["simulation_database"]
        assert manifest.window.start.strftime("%Y-%m-%dT%H:%M:%SZ") == day["window"]["start"]
        assert manifest.extra_sections["ta_restore"] == {"mode": "required"}
        assert json.loads((run_dir / "plan.json").read_text()) == day
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim_20260306_01", "sim_20260309_01"]


def test_plan_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    first = _run(capsys, "--date", "2026-10-30")
    second = _run(capsys, "--date", "2026-10-30")
    assert first == second


def test_local_template(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORGHUT_DEVSTACK_POSTGRES_PASSWORD", "pw-must-not-leak")
    monkeypatch.delenv("TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD", raising=False)
    code, out, _ = _run(capsys, "--date", "2026-03-06", "--template", str(LOCAL_TEMPLATE))
    assert code == 0
    plan: dict[str, Any] = json.loads(out)
    assert plan["connections"]["kafka"]["bootstrap_servers"] == "127.0.0.1:59092"
    assert plan["connections"]["kafka"]["security_protocol"] == "PLAINTEXT"
    assert plan["connections"]["clickhouse"]["http_url"] == "http://127.0.0.1:58123"
    assert (
        plan["connections"]["postgres"]["admin_dsn"] == "postgresql://postgres:***@127.0.0.1:55432/postgres"
    )
    assert plan["runtime"]["run_dir"] == "artifacts/simulations/sim_20260306_01"
    assert plan["secrets"] == [
        {"env": "TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD", "set": False},
        {"env": "TORGHUT_DEVSTACK_POSTGRES_PASSWORD", "set": True},
    ]
    assert "pw-must-not-leak" not in out


def _choices(parser: argparse.ArgumentParser) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_a_command_builds_only_its_own_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("plan", "dump", "status"))
    assert cli.chosen_command(["--debug", "dump", "--help"]) == "dump"
    assert cli.chosen_command(["--help"]) is None
    assert _choices(cli.build_parser("status")) == ["status"]
    assert _choices(cli.build_parser()) == list(cli.COMMAND_MODULES)
