"""`torghut-sim plan`: JSON plan on stdout, exit codes 0/1/2, one-line errors, written run dirs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from torghut_sim import cli
from torghut_sim.day_template import DEFAULT_TEMPLATE, LOCAL_TEMPLATE
from torghut_sim.manifest import load_manifest

SECRET_ENVS = (
    "TORGHUT_CLICKHOUSE_PASSWORD",
    "TORGHUT_POSTGRES_ADMIN_PASSWORD",
    "TORGHUT_POSTGRES_PASSWORD",
    "TORGHUT_SIM_KAFKA_PASSWORD",
    "TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD",
    "TORGHUT_DEVSTACK_POSTGRES_PASSWORD",
)


@pytest.fixture(autouse=True)
def secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every secret variable the templates name is set (to a value no output may show)."""
    for name in SECRET_ENVS:
        monkeypatch.setenv(name, "s3cret-never-shown")


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
        (("--from", "2026-03-02"), "--from-date and --to-date"),
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
    code, out, err = _run(capsys, "--date", "2026-03-06", "--template", str(LOCAL_TEMPLATE))
    # The plan is shown, but a run without the ClickHouse password could not start: not ok.
    assert code == 1 and "[missing_secret]" in err and "TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD" in err
    plan: dict[str, Any] = json.loads(out)
    assert plan["ok"] is False
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


def test_an_options_lane_template_is_refused_before_anything_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    template = yaml.safe_load(LOCAL_TEMPLATE.read_text())
    template.update({"lane": "options", "schema_version": "torghut.options-simulation-manifest.v1"})
    path = tmp_path / "options.yaml"
    path.write_text(yaml.safe_dump(template))
    out_root = tmp_path / "out"
    argv = ["--date", "2026-03-06", "--template", str(path), "--output-root", str(out_root), "--write"]
    code, out, err = _run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "[unsupported_lane]" in err
    assert not out_root.exists()


def test_a_plan_with_an_unset_secret_is_not_ok(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TORGHUT_POSTGRES_PASSWORD")
    monkeypatch.setenv("TORGHUT_SIM_KAFKA_PASSWORD", "")
    out_root = tmp_path / "out"
    code, out, err = _run(capsys, "--date", "2026-03-06", "--output-root", str(out_root), "--write")
    assert code == 1
    plan = json.loads(out)
    assert plan["ok"] is False
    assert {s["env"] for s in plan["secrets"] if not s["set"]} == {
        "TORGHUT_POSTGRES_PASSWORD",
        "TORGHUT_SIM_KAFKA_PASSWORD",
    }
    assert err.count("\n") == 1 and "[missing_secret]" in err and "TORGHUT_POSTGRES_PASSWORD" in err
    assert "s3cret-never-shown" not in out + err
    assert not out_root.exists()


def _template(tmp_path: Path, **window: Any) -> Path:
    template = yaml.safe_load(LOCAL_TEMPLATE.read_text())
    for dotted, value in window.items():
        section, _, key = dotted.partition("__")
        if key:
            template.setdefault(section, {})[key] = value
        else:
            template[section] = value
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    return path


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"window__timezone": "Mars/Olympus"}, "window.timezone=Mars/Olympus"),
        ({"window__timezone": "UTC"}, "window.timezone=UTC"),
        # A 1-hour smoke window would become the 6.5-hour session.
        (
            {"window__start": "2026-03-06T14:30:00Z", "window__end": "2026-03-06T15:30:00Z"},
            "window.end=2026-03-06T15:30:00Z",
        ),
        ({"window__min_coverage_minutes": 60}, "window.min_coverage_minutes=60"),
        ({"window__pre_buffer_minutes": 15}, "--pre-buffer-minutes"),
        ({"clickhouse__simulation_database": "torghut"}, "clickhouse.simulation_database=torghut"),
        (
            {"postgres__simulation_dsn": "postgresql://postgres@127.0.0.1:55432/torghut"},
            "postgres.simulation_dsn names database torghut",
        ),
        ({"dataset_id": "torghut-trades-20990101"}, "dataset_id=torghut-trades-20990101"),
    ],
)
def test_a_template_value_the_day_would_replace_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, values: dict[str, Any], named: str
) -> None:
    path = _template(tmp_path, **values)
    out_root = tmp_path / "out"
    argv = ["--date", "2026-03-06", "--template", str(path), "--output-root", str(out_root), "--write"]
    code, out, err = _run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "[template_value_not_honoured]" in err and named in err
    assert not out_root.exists()


def test_template_values_equal_to_the_days_are_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _template(
        tmp_path,
        window__timezone="America/New_York",
        window__start="2026-03-06T09:30:00-05:00",
        window__end="2026-03-06T21:00:00Z",
        window__min_coverage_minutes=390,
        window__pre_buffer_minutes=0,
        clickhouse__simulation_database="torghut_sim_sim_20260306_01",
    )
    code, out, err = _run(capsys, "--date", "2026-03-06", "--template", str(path))
    assert code == 0, err
    assert json.loads(out)["window"]["start"] == "2026-03-06T14:30:00Z"


def test_the_seed_spellings_plan_a_range(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The seed's spellings: --from-date, --to-date, --calendar-filter, --max-parallel-days, --dry-run."""
    argv = [
        "--from-date", "2026-11-23", "--to-date", "2026-11-30", "--calendar-filter", "skip-empty",
        "--max-parallel-days", "2", "--dry-run", "--output-root", str(tmp_path / "out"),
    ]  # fmt: skip
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    plan = json.loads(out)
    assert (plan["from"], plan["to"], plan["calendar_filter"]) == ("2026-11-23", "2026-11-30", "skip-empty")
    # Thanksgiving (26th) is planned under skip-empty; the weekend is not.
    assert plan["batches"] == [
        ["sim-20261123-01", "sim-20261124-01"],
        ["sim-20261125-01", "sim-20261126-01"],
        ["sim-20261127-01", "sim-20261130-01"],
    ]
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
    # The short spellings are aliases of the same options.
    code, short, _ = _run(capsys, *[{"--from-date": "--from", "--to-date": "--to"}.get(a, a) for a in argv])
    assert code == 0 and short == out


def test_dry_run_and_write_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage(capsys, "--date", "2026-03-06", "--dry-run", "--write")
    assert "not allowed with argument" in err


def _choices(parser: argparse.ArgumentParser) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_the_parser_has_every_command_module() -> None:
    names = [module.__name__.rsplit(".", 1)[1] for module in cli.COMMANDS]
    assert _choices(cli.build_parser()) == names
    assert names == ["plan", "dump", "replay", "apply", "teardown", "status", "cleanup", "report"]


def test_the_command_line_starts_without_the_heavy_clients() -> None:
    """Every command is imported statically, so each must defer Kubernetes, the stores and the charts."""
    heavy = (
        "kubernetes",
        "matplotlib",
        "polars",
        "duckdb",
        "clickhouse_connect",
        "psycopg",
        "exchange_calendars",
    )
    probe = f"import sys, torghut_sim.cli; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
