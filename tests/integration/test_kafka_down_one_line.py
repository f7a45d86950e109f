"""A Kafka broker that is down gives one `[reason]` line: librdkafka's own log never reaches stderr.

Before, a dump against a stopped broker printed about 290 librdkafka connection lines before its reason.
The broker address is a loopback port nothing listens on, as after a broker crash.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration._tcp_proxy import free_port


def _stderr_of(argv: list[str]) -> tuple[int, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "torghut_sim.cli", *argv],
        check=False,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )
    return proc.returncode, proc.stderr.splitlines()


def test_a_dump_from_a_broker_that_is_down(tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    out = tmp_path / "run"
    code, lines = _stderr_of(
        ["dump", "--bootstrap-servers", bootstrap, "--start", "2026-03-06T14:30:00Z", "--end",
         "2026-03-06T15:00:00Z", "--out", str(out)]
    )  # fmt: skip
    assert code == 1
    assert len(lines) == 1, "\n".join(lines[:5])
    assert lines[0].startswith("torghut-sim: [broker_unreachable]") and bootstrap in lines[0]
    assert not out.exists()


def test_cleanup_listing_a_broker_that_is_down() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    code, lines = _stderr_of(["cleanup", "--older-than", "14d", "--kafka-bootstrap", bootstrap])
    assert code == 1
    assert len(lines) == 1, "\n".join(lines[:5])
    assert lines[0].startswith("torghut-sim: [")
