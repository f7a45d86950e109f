"""PostgreSQL 15 from Debian's packages: a throwaway cluster in the state directory on loopback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg

from torghut_sim.devstack.apt import ensure_packages
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.process import run_checked, spawn, wait_until
from torghut_sim.devstack.service import Service

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
# A throwaway local cluster; the password only exists so that password authentication is real.
PASSWORD = os.environ.get("TORGHUT_DEVSTACK_POSTGRES_PASSWORD", "devstack")


class PostgresService(Service):
    """A PostgreSQL 15 cluster owned by the `postgres` OS user when the stack runs as root."""

    name = "postgres"

    @property
    def data_dir(self) -> Path:
        """The cluster's PGDATA."""
        return self.state_dir / "data"

    def _as_owner(self, argv: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root; drop to the packaged `postgres` user then.
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, user="postgres", group="postgres")

    def install(self) -> None:
        """Install the server package and create the cluster once."""
        ensure_packages({"postgresql-15": str(PG_BIN / "postgres")})
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.state_dir / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        for path in (self.state_dir, self.data_dir, pwfile):
            self._chown(path)
        run_checked(
            self._as_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            "initdb",
        )
        pwfile.unlink()

    def start(self) -> None:
        """Start the cluster on its port and wait until it accepts logins."""
        self.install()
        if not self.healthy():
            self.log_file.touch()
            self._chown(self.log_file)
            spawn(
                self.name,
                self._as_owner(
                    [
                        str(PG_BIN / "postgres"),
                        "-D",
                        str(self.data_dir),
                        "-p",
                        str(self.config.ports.postgres),
                        "-h",
                        self.config.host,
                        "-k",
                        str(self.state_dir),
                        "-c",
                        "max_connections=300",
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                    ]
                ),
                self.pid_file,
                self.log_file,
            )
        wait_until(self.name, self.healthy, 60, self.pid_file, self.log_file)

    def dsn(self, database: str = "postgres") -> str:
        """A superuser DSN for a database of this cluster."""
        return (
            f"postgresql://{SUPERUSER}:{PASSWORD}@{self.config.host}:{self.config.ports.postgres}/{database}"
        )

    def healthy(self) -> bool:
        """True when a password login runs a query."""
        try:
            with psycopg.connect(self.dsn(), connect_timeout=2) as conn:
                return conn.execute("select 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def endpoints(self) -> dict[str, str]:
        """The superuser DSN, password redacted."""
        return {"dsn": self.dsn().replace(f":{PASSWORD}@", ":***@")}

    def stop(self) -> bool:
        """Stop with a fast shutdown so the next start needs no recovery."""
        if not self.pid_file.exists():
            return False
        try:
            run_checked(
                self._as_owner(
                    [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
                ),
                "pg_ctl stop",
            )
        except DevstackError:
            return super().stop()
        self.pid_file.unlink(missing_ok=True)
        return True
