"""Background server processes of the local stack: start with a log and PID file, wait, stop by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from torghut_sim.devstack.errors import DevstackError


def pid_alive(pid: int) -> bool:
    """True when a process with this PID exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            # Field 3 is the state; a zombie has exited and only waits to be reaped.
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    """The PID recorded in a PID file when that process still runs, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def spawn(
    name: str,
    argv: Sequence[str],
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start a detached server process whose output goes to a log file; records and returns its PID."""
    existing = read_pid(pid_file)
    if existing is not None:
        return existing
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            # A new session keeps the server alive after the starting command exits and lets stop()
            # signal the whole group.
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def wait_until(
    name: str,
    ready: Callable[[], bool],
    timeout: float,
    pid_file: Path | None = None,
    log_file: Path | None = None,
    interval: float = 0.25,
) -> None:
    """Poll `ready` until it is true; fail early when the process died, with the end of its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if pid_file is not None and read_pid(pid_file) is None:
            log = tail(log_file) if log_file else ""
            raise DevstackError("service_exited", f"{name} exited before it was ready:\n{log}")
        time.sleep(interval)
    log = tail(log_file) if log_file else ""
    raise DevstackError("service_not_ready", f"{name} was not ready after {timeout:.0f}s:\n{log}")


def stop_pid(pid_file: Path, timeout: float = 20.0) -> bool:
    """Stop the process group of a PID file (TERM, then KILL); True when something was stopped."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def run_checked(argv: Sequence[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a build or set-up command; on failure raise with the last lines of its output."""
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    if proc.returncode != 0:
        out = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise DevstackError("build_failed", f"{what} failed (exit {proc.returncode}):\n{out}")
    return proc  # type: ignore[no-any-return]
