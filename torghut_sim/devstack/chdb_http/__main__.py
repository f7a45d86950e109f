"""`python -m torghut_sim.devstack.chdb_http`: open the engine on a data path and serve it over HTTP."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import torghut_sim.devstack.chdb_http as package
from torghut_sim.devstack.chdb_http.engine import Engine
from torghut_sim.devstack.chdb_http.request import Credentials
from torghut_sim.devstack.chdb_http.server import ChdbHttpServer


def build_parser() -> argparse.ArgumentParser:
    """The command line of the front end."""
    parser = argparse.ArgumentParser(
        prog="python -m torghut_sim.devstack.chdb_http", description=package.__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", type=Path, required=True, help="the engine's data directory")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default=None)
    parser.add_argument("--password-env", default=None, help="read the password from this variable")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Open the engine on --path, then serve HTTP on --host:--port until SIGTERM/SIGINT."""
    args = build_parser().parse_args(argv)
    password = args.password
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            print(f"chdb_http: ${args.password_env} is not set", file=sys.stderr)
            return 2
    engine = Engine(args.path)
    try:
        server = ChdbHttpServer((args.host, args.port), engine, Credentials(args.user, password))
    except OSError as exc:
        engine.close()
        print(f"chdb_http: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    def _stop(signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever, so it must run off the signal-handling main thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(
        f"chdb_http: ClickHouse {engine.version} (chdb) on http://{args.host}:{args.port} data={args.path}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
