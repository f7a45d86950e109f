"""Running the native Kafka engine (`native/kafka-engine`): finding the binary, one job, its events.

The engine does the per-record work of a dump or a replay; Python keeps the planning, the refusals and
the markers. A job goes to the engine as JSON on stdin (it may carry a SASL password, so never argv or
environment); the engine answers with JSON lines on stdout: `progress` events, then one `result` or one
`error` event carrying a reason code, which is raised here as an `EngineError` with that code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Literal

from torghut_sim.errors import TorghutSimError
from torghut_sim.kafka.connection import KafkaConnection

ENGINE_ENV = "TORGHUT_SIM_KAFKA_ENGINE"
ENGINE_NAME = "torghut-kafka-engine"
# Must equal `engineVersion` in native/kafka-engine/common.go: the job and event format it speaks.
ENGINE_VERSION = "torghut-kafka-engine/1"

EngineChoice = Literal["auto", "native", "python"]
EngineProgress = Callable[[str, int, int], None]


class EngineError(TorghutSimError):
    """The native engine is missing, speaks another version, or failed a job (with its reason code)."""

    reason = "engine_failed"


@contextmanager
def engine_errors_as(error: type[TorghutSimError]) -> Iterator[None]:
    """Raise an `EngineError` of the block as the caller's `error`, with the engine's message and reason."""
    try:
        yield
    except EngineError as exc:
        raise error(exc.message, reason=exc.reason) from None


def _candidates() -> list[Path]:
    configured = os.environ.get(ENGINE_ENV)
    if configured:
        return [Path(configured)]
    found = shutil.which(ENGINE_NAME)
    # The bootstrap installs the engine beside the interpreter of the project's virtual environment.
    paths = [Path(sys.executable).parent / ENGINE_NAME]
    if found:
        paths.append(Path(found))
    return paths


@cache
def _probe(path: Path) -> str | None:
    """The version the binary reports, None when it cannot run."""
    try:
        done = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_engine() -> Path | None:
    """The usable engine binary, or None; a configured path that does not work is an error."""
    for path in _candidates():
        if not path.is_file():
            continue
        version = _probe(path)
        if version == ENGINE_VERSION:
            return path
        if os.environ.get(ENGINE_ENV):
            raise EngineError(
                f"{ENGINE_ENV}={path} reports {version!r}, expected {ENGINE_VERSION!r}; rebuild it with "
                "scripts/bootstrap.sh",
                reason="engine_version_mismatch",
            )
    if os.environ.get(ENGINE_ENV):
        raise EngineError(f"{ENGINE_ENV}={os.environ[ENGINE_ENV]} does not exist", reason="engine_missing")
    return None


def use_native(choice: EngineChoice) -> Path | None:
    """The engine to use for `choice`: `auto` takes it when built, `native` insists, `python` never."""
    if choice == "python":
        return None
    path = find_engine()
    if path is None and choice == "native":
        raise EngineError(
            f"the native Kafka engine ({ENGINE_NAME}) is not built; run scripts/bootstrap.sh",
            reason="engine_missing",
        )
    return path


def connection_job(connection: KafkaConnection) -> dict[str, Any]:
    """The connection fields of an engine job (`Connection` in native/kafka-engine/common.go)."""
    return {
        "brokers": [b.strip() for b in connection.bootstrap_servers.split(",") if b.strip()],
        "security_protocol": connection.security_protocol,
        "sasl_mechanism": connection.sasl_mechanism or "",
        "sasl_username": connection.sasl_username or "",
        # The job goes to the engine on stdin only; it is never logged or passed in argv.
        "sasl_password": connection.sasl_password or "",
    }


def run_engine(
    path: Path,
    command: Literal["dump", "replay"],
    job: Mapping[str, Any],
    on_progress: EngineProgress | None = None,
) -> dict[str, Any]:
    """Run one job to its end; the result event's fields, or the engine's failure as an `EngineError`."""
    process = subprocess.Popen(
        [str(path), command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    stderr_tail: list[bytes] = []
    # Drained on its own thread so a chatty stderr can never block the engine while stdout is read.
    drain = threading.Thread(target=_keep_tail, args=(process.stderr, stderr_tail), daemon=True)
    drain.start()
    outcome: dict[str, Any] | None = None
    try:
        try:
            process.stdin.write(json.dumps(job).encode("utf-8"))
            process.stdin.close()
        except BrokenPipeError:
            pass  # the engine died at once; its exit code and stderr tell why below
        for raw in process.stdout:
            event = json.loads(raw)
            kind = event.get("event")
            if kind == "progress":
                if on_progress is not None:
                    on_progress(str(event["phase"]), int(event["done"]), int(event.get("total") or 0))
            elif kind in ("result", "error"):
                outcome = event
        code = process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        drain.join(5)
    if outcome is not None and outcome["event"] == "error":
        raise EngineError(str(outcome.get("message")), reason=str(outcome.get("reason") or "engine_failed"))
    if outcome is None or code != 0:
        tail = b"".join(stderr_tail).decode("utf-8", "replace").strip()[-2000:]
        raise EngineError(f"{ENGINE_NAME} {command} exited with code {code}: {tail or 'no output'}")
    return outcome


def _keep_tail(stream: Any, tail: list[bytes], limit: int = 64) -> None:
    for line in stream:
        tail.append(line)
        if len(tail) > limit:
            del tail[0]
