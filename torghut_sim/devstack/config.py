"""Where the local stack lives: state and cache directories and the loopback ports of each server."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class Ports:
    """Loopback ports; each can be moved with a TORGHUT_DEVSTACK_<NAME>_PORT variable."""

    postgres: int = field(default_factory=lambda: _env_port("TORGHUT_DEVSTACK_POSTGRES_PORT", 55432))
    kafka: int = field(default_factory=lambda: _env_port("TORGHUT_DEVSTACK_KAFKA_PORT", 59092))
    kafka_controller: int = field(
        default_factory=lambda: _env_port("TORGHUT_DEVSTACK_KAFKA_CONTROLLER_PORT", 59093)
    )
    clickhouse: int = field(default_factory=lambda: _env_port("TORGHUT_DEVSTACK_CLICKHOUSE_PORT", 58123))
    etcd_client: int = field(default_factory=lambda: _env_port("TORGHUT_DEVSTACK_ETCD_PORT", 52379))
    etcd_peer: int = field(default_factory=lambda: _env_port("TORGHUT_DEVSTACK_ETCD_PEER_PORT", 52380))
    kube_apiserver: int = field(default_factory=lambda: _env_port("TORGHUT_DEVSTACK_KUBE_PORT", 56443))

    # The node's servers sit just above the API server's port unless moved.
    @property
    def kubelet(self) -> int:
        """The kubelet's HTTPS port (logs, exec), reached by the API server as `localhost`."""
        return _env_port("TORGHUT_DEVSTACK_KUBELET_PORT", self.kube_apiserver + 1)

    @property
    def kubelet_healthz(self) -> int:
        """The kubelet's plain-HTTP health port."""
        return _env_port("TORGHUT_DEVSTACK_KUBELET_HEALTHZ_PORT", self.kube_apiserver + 2)

    @property
    def kube_scheduler(self) -> int:
        """kube-scheduler's secure port (health)."""
        return _env_port("TORGHUT_DEVSTACK_KUBE_SCHEDULER_PORT", self.kube_apiserver + 3)

    @property
    def kube_controller_manager(self) -> int:
        """kube-controller-manager's secure port (health)."""
        return _env_port("TORGHUT_DEVSTACK_KUBE_CONTROLLER_MANAGER_PORT", self.kube_apiserver + 4)


@dataclass(frozen=True)
class StackConfig:
    """Directories and ports of one local stack.

    `state_dir` holds data, logs and PID files (throwaway); `cache_dir` holds build outputs (jars, Go
    binaries) that survive between runs on one machine so only the first start pays for the build.
    """

    state_dir: Path = field(
        default_factory=lambda: _env_path("TORGHUT_DEVSTACK_STATE", REPO_ROOT / ".devstack")
    )
    cache_dir: Path = field(
        default_factory=lambda: _env_path(
            "TORGHUT_DEVSTACK_CACHE", Path.home() / ".cache" / "torghut-sim" / "devstack"
        )
    )
    ports: Ports = field(default_factory=Ports)
    host: str = HOST

    def service_dir(self, name: str) -> Path:
        """The state directory of one service, created on demand."""
        path = self.state_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def build_dir(self, name: str) -> Path:
        """The build-cache directory of one service, created on demand."""
        path = self.cache_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def assets_dir(self) -> Path:
        """Checked-in build inputs of the stack (pom.xml, Go module, CRDs)."""
        return REPO_ROOT / "devstack"
