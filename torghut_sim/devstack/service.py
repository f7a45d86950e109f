"""The shape every local-stack server follows: install once, start idempotently, report health, stop."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.process import read_pid, stop_pid


@dataclass(frozen=True)
class ServiceStatus:
    """What `devstack status` shows for one server."""

    name: str
    running: bool
    healthy: bool
    pids: dict[str, int | None] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)
    log: str = ""


class Service(abc.ABC):
    """One real server on loopback, with its state under `<state_dir>/<name>/`."""

    name: str = ""

    def __init__(self, config: StackConfig) -> None:
        self.config = config

    @property
    def state_dir(self) -> Path:
        """This server's data, log and PID directory."""
        return self.config.service_dir(self.name)

    @property
    def build_dir(self) -> Path:
        """This server's persistent build cache."""
        return self.config.build_dir(self.name)

    @property
    def pid_file(self) -> Path:
        """The PID file of the main process."""
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        """The log of the main process."""
        return self.state_dir / f"{self.name}.log"

    @abc.abstractmethod
    def install(self) -> None:
        """Fetch or build what the server needs; idempotent and cheap when already done."""

    @abc.abstractmethod
    def start(self) -> None:
        """Install if needed, start unless running, and return once the server answers."""

    @abc.abstractmethod
    def healthy(self) -> bool:
        """True when the server answers a real request."""

    @abc.abstractmethod
    def endpoints(self) -> dict[str, str]:
        """How clients reach the server (URLs, bootstrap strings, file paths)."""

    def pid_files(self) -> dict[str, Path]:
        """Every process of this server by role; most servers have one."""
        return {self.name: self.pid_file}

    def stop(self) -> bool:
        """Stop every process of this server (reverse start order); True when anything was running."""
        stopped = False
        for pid_file in reversed(list(self.pid_files().values())):
            stopped = stop_pid(pid_file) or stopped
        return stopped

    def status(self) -> ServiceStatus:
        """Processes, health and endpoints of this server."""
        pids = {role: read_pid(path) for role, path in self.pid_files().items()}
        running = all(pid is not None for pid in pids.values())
        return ServiceStatus(
            name=self.name,
            running=running,
            healthy=running and self.healthy(),
            pids=pids,
            endpoints=self.endpoints(),
            log=str(self.log_file),
        )
