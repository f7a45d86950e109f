"""Bad input to the `torghut-sim` command line is one `[reason]` line on stderr, never a traceback.

Each case runs the real console entry point in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from torghut_sim import cli

SECRETS = {
    name: "s3cret-never-shown"
    for name in (
        "TORGHUT_CLICKHOUSE_PASSWORD",
        "TORGHUT_POSTGRES_ADMIN_PASSWORD",
        "TORGHUT_POSTGRES_PASSWORD",
        "TORGHUT_SIM_KAFKA_PASSWORD",
    )
}
_REASON = re.compile(r"^torghut-sim: (?:\S+: )?\[([a-z0-9_]+)\] ")


def one_reason_line(argv: list[str], env: dict[str, str] | None = None) -> str:
    """Run `torghut-sim ARGV`: exit 1 and exactly one stderr line with a reason code; returns the code."""
    proc = subprocess.run(
        [sys.executable, "-m", "torghut_sim.cli", *argv],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **SECRETS, **(env or {})},
        timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    match = _REASON.match(lines[0])
    assert match, lines[0]
    assert proc.returncode == 1, proc.stderr
    assert "s3cret-never-shown" not in proc.stderr + proc.stdout
    return match.group(1)


@pytest.mark.parametrize("minutes", ["1441", "99999999999999999999"])
def test_an_enormous_buffer(minutes: str) -> None:
    assert (
        one_reason_line(["plan", "--date", "2026-03-06", "--pre-buffer-minutes", minutes]) == "invalid_buffer"
    )


def test_an_unwritable_output_root(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    argv = ["plan", "--date", "2026-03-06", "--write", "--output-root", str(blocker / "runs")]
    assert one_reason_line(argv) == "output_root_unwritable"
    assert blocker.read_text() == "not a directory"


def test_a_non_utf8_template(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_bytes(b"window:\n  profile: \xff\xfe\n")
    argv = ["plan", "--date", "2026-03-06", "--template", str(template)]
    assert one_reason_line(argv) == "manifest_unreadable"


KUBECONFIGS = {
    "not_yaml": b"a: [unclosed\n",
    "a_list": b"- 1\n- 2\n",
    "wrong_types": b"apiVersion: v1\nclusters: 5\ncontexts: []\ncurrent-context: x\n",
    "empty": b"",
}


def _kube_argv(verb: str, kubeconfig: Path, run_dir: Path) -> list[str]:
    argv = [verb, "--kubeconfig", str(kubeconfig), "--run-dir", str(run_dir)]
    if verb == "apply":
        argv += [
            "--run-id", "sim-20260306-01", "--run-token", "sim_20260306_01",
            "--dataset-id", "torghut-trades-20260306", "--window-start", "2026-03-06T14:30:00Z",
            "--window-end", "2026-03-06T21:00:00Z", "--simulation-database", "torghut_sim_sim_20260306_01",
            "--clickhouse-url", "http://127.0.0.1:8123",
        ]  # fmt: skip
    return argv


DSN_ENV = {"TORGHUT_SIM_DB_DSN": "postgresql://u:s3cret-never-shown@127.0.0.1:1/torghut_sim_sim_20260306_01"}


def test_a_malformed_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(KUBECONFIGS["not_yaml"])
    run_dir = tmp_path / "run"
    assert one_reason_line(_kube_argv("apply", kubeconfig, run_dir), DSN_ENV) == "kubeconfig_invalid"
    assert not run_dir.exists()


@pytest.mark.parametrize("content", sorted(KUBECONFIGS))
@pytest.mark.parametrize("verb", ["status", "teardown", "apply"])
def test_every_malformed_kubeconfig_in_process(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    verb: str,
) -> None:
    """The same, through `cli.main` (fast): every kind of broken file, every verb that reads one."""
    for name, value in DSN_ENV.items():
        monkeypatch.setenv(name, value)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(KUBECONFIGS[content])
    run_dir = tmp_path / "run"
    assert cli.main(_kube_argv(verb, kubeconfig, run_dir)) == cli.EXIT_REFUSED
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "[kubeconfig_invalid]" in lines[0], lines
    assert not run_dir.exists()
