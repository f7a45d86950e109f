"""ClickHouse for the local stack: the real engine (chdb) behind the ClickHouse HTTP front end in `chdb_http`.

The main instance listens on `config.ports.clickhouse` with its data in `<state>/clickhouse/data`, so
data survives `devstack down` + `devstack up`. Extra instances (for "several replicas as a list of HTTP
endpoints") run the same server on their own port and directory via `start_instance`.

The local stack has no keeper, and chdb refuses `Replicated*MergeTree` ("Can't create replicated table
without ZooKeeper", code 225 NO_ZOOKEEPER): the local "production" tables use `ReplacingMergeTree`,
and the pipeline's replicated-engine DDL rewrite is tested as pure code.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torghut_sim.devstack.config import HOST, REPO_ROOT
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.process import read_pid, spawn, stop_pid, wait_until
from torghut_sim.devstack.service import Service

# The production ClickHouse user of the TA and the runtime; a throwaway local password makes auth real.
USERNAME = "torghut"
PASSWORD = os.environ.get("TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD", "devstack")
# The password reaches the server through its environment, not argv, so `ps` does not show it.
PASSWORD_ENV = "TORGHUT_CHDB_HTTP_PASSWORD"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class ChdbHttpInstance:
    """One ClickHouse HTTP front-end process: where it listens, its data directory, PID and log files."""

    port: int
    data_path: Path
    pid_file: Path
    log_file: Path
    host: str = HOST
    username: str = USERNAME
    password: str = PASSWORD

    @property
    def http_url(self) -> str:
        """The base URL clients connect to."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server unless it already answers, and return once it runs queries."""
        if not self.healthy():
            self.data_path.mkdir(parents=True, exist_ok=True)
            spawn(
                f"chdb_http:{self.port}",
                [
                    sys.executable,
                    "-m",
                    "torghut_sim.devstack.chdb_http",
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                    "--path",
                    str(self.data_path),
                    "--user",
                    self.username,
                    "--password-env",
                    PASSWORD_ENV,
                ],
                self.pid_file,
                self.log_file,
                env={PASSWORD_ENV: self.password},
                cwd=REPO_ROOT,
            )
        name = f"clickhouse (chdb) on port {self.port}"
        wait_until(name, self.healthy, timeout, self.pid_file, self.log_file)

    def stop(self) -> bool:
        """Stop the server by its PID file; True when it was running."""
        return stop_pid(self.pid_file)

    def running(self) -> bool:
        """True when the process of the PID file is alive."""
        return read_pid(self.pid_file) is not None

    def healthy(self) -> bool:
        """True when an authenticated `SELECT 1` answers 1."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.http_url}/", data=b"SELECT 1", headers={"Authorization": f"Basic {token}"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return bool(response.status == 200 and response.read() == b"1\n")
        except (urllib.error.URLError, OSError):
            return False

    def client(self, **kwargs: Any) -> Any:
        """A `clickhouse_connect` client of this server; keyword arguments go to `get_client`."""
        import clickhouse_connect  # noqa: PLC0415  # only callers that query need the client library

        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
        }
        return clickhouse_connect.get_client(**{**options, **kwargs})


def start_instance(port: int, path: Path, *, timeout: float = START_TIMEOUT) -> ChdbHttpInstance:
    """Start an extra ClickHouse HTTP server on `port`, data/PID/log under `path`; returns when ready.

    Stop it with `instance.stop()`.
    """
    path.mkdir(parents=True, exist_ok=True)
    instance = ChdbHttpInstance(
        port=port, data_path=path / "data", pid_file=path / "chdb_http.pid", log_file=path / "chdb_http.log"
    )
    instance.start(timeout)
    return instance


class ClickHouseService(Service):
    """The stack's ClickHouse: one chdb HTTP front end on the configured port."""

    name = "clickhouse"

    @property
    def instance(self) -> ChdbHttpInstance:
        """The main server process."""
        return ChdbHttpInstance(
            port=self.config.ports.clickhouse,
            data_path=self.state_dir / "data",
            pid_file=self.pid_file,
            log_file=self.log_file,
            host=self.config.host,
        )

    @property
    def http_url(self) -> str:
        """The base URL of the HTTP interface."""
        return self.instance.http_url

    def install(self) -> None:
        """Nothing to fetch: the engine is the `chdb` wheel, a project dependency."""
        for module in ("chdb", "clickhouse_connect"):
            if importlib.util.find_spec(module) is None:
                raise DevstackError(
                    "package_missing", f"the Python package {module!r} is not installed; run `uv sync`"
                )

    def start(self) -> None:
        """Start the front end unless it answers, and return once it runs queries."""
        self.install()
        self.instance.start()

    def healthy(self) -> bool:
        """True when an authenticated query answers."""
        return self.instance.healthy()

    def endpoints(self) -> dict[str, str]:
        """The HTTP URL (user `torghut`, password from TORGHUT_DEVSTACK_CLICKHOUSE_PASSWORD)."""
        return {"http_url": self.http_url}

    def client(self, **kwargs: Any) -> Any:
        """A `clickhouse_connect` client of the main server; keyword arguments go to `get_client`."""
        return self.instance.client(**kwargs)
