"""The reference runtime as a server of the local stack: `devstack up runtime` starts its controller.

The controller watches the runtime namespace (`torghut`, or TORGHUT_DEVSTACK_RUNTIME_NAMESPACE) and
rewrites a heartbeat file every cycle; it is healthy while that file is fresh and names its PID.
It reaches Kafka, ClickHouse and the Kubernetes API through the stack's own endpoints, so those
servers start first.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from torghut_sim.devstack.config import REPO_ROOT
from torghut_sim.devstack.process import read_pid, spawn, wait_until
from torghut_sim.devstack.service import Service

HEARTBEAT_MAX_AGE_S = 15.0
START_TIMEOUT_S = 60.0
DEPENDENCIES = ("kube", "kafka", "clickhouse", "postgres")


class RuntimeService(Service):
    """The reference runtime controller process (TA + Torghut stand-ins, Knative/Flink status)."""

    name = "runtime"

    @property
    def namespace(self) -> str:
        """The namespace the controller watches."""
        return os.environ.get("TORGHUT_DEVSTACK_RUNTIME_NAMESPACE", "torghut")

    @property
    def heartbeat_file(self) -> Path:
        """Rewritten by the controller after every reconcile cycle."""
        return self.state_dir / "heartbeat.json"

    def install(self) -> None:
        """Nothing to fetch: the controller is part of this package."""

    def start(self) -> None:
        """Start the stack servers it needs, then the controller, and wait for its first heartbeat."""
        from torghut_sim.devstack.registry import service  # noqa: PLC0415 - registry imports this module

        for name in DEPENDENCIES:
            dependency = service(name, self.config)
            if not dependency.healthy():
                dependency.start()
        if not self.healthy():
            self.heartbeat_file.unlink(missing_ok=True)
            spawn(
                self.name,
                [
                    sys.executable,
                    "-m",
                    "torghut_sim.devstack.refruntime",
                    "--namespace",
                    self.namespace,
                    "--heartbeat",
                    str(self.heartbeat_file),
                ],
                self.pid_file,
                self.log_file,
                cwd=REPO_ROOT,
            )
        wait_until(self.name, self.healthy, START_TIMEOUT_S, self.pid_file, self.log_file)

    def healthy(self) -> bool:
        """True when the controller process runs and its heartbeat is fresh."""
        pid = read_pid(self.pid_file)
        if pid is None:
            return False
        try:
            beat = json.loads(self.heartbeat_file.read_text())
            age = time.time() - self.heartbeat_file.stat().st_mtime
        except (OSError, ValueError):
            return False
        return bool(beat.get("pid") == pid and age <= HEARTBEAT_MAX_AGE_S)

    def endpoints(self) -> dict[str, str]:
        """The watched namespace, the heartbeat file and where the runtime serves /metrics."""
        try:
            metrics_url = str(json.loads(self.heartbeat_file.read_text()).get("metrics_url") or "")
        except (OSError, ValueError):
            metrics_url = ""
        out = {"namespace": self.namespace, "heartbeat": str(self.heartbeat_file)}
        return {**out, "metrics_url": metrics_url} if metrics_url else out
