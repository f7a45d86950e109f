"""`devstack`: bring the local stack of real servers up, down, and report what runs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict

from torghut_sim.devstack import seed_cli
from torghut_sim.devstack.config import StackConfig
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.ports import reserve_ports, stack_ports
from torghut_sim.devstack.registry import OPTIONAL_SERVICES, SERVICE_CLASSES, default_services, service
from torghut_sim.devstack.service import Service


def _names(args: argparse.Namespace) -> list[str]:
    return list(args.services) or default_services()


def _timed_each(
    args: argparse.Namespace, config: StackConfig, done: str, act: Callable[[Service], None]
) -> int:
    """`act` on each named service in order, printing `<name>: <done> (<seconds>s)` after each."""
    for name in _names(args):
        began = time.monotonic()
        act(service(name, config))
        print(f"{name}: {done} ({time.monotonic() - began:.1f}s)", file=sys.stderr)
    return 0


def _up(args: argparse.Namespace, config: StackConfig) -> int:
    reserve_ports(stack_ports(config))
    return _timed_each(args, config, "up", lambda svc: svc.start())


def _install(args: argparse.Namespace, config: StackConfig) -> int:
    return _timed_each(args, config, "installed", lambda svc: svc.install())


def _down(args: argparse.Namespace, config: StackConfig) -> int:
    # Stopping everything includes the optional servers: nothing this stack started is left running.
    for name in reversed(list(args.services) or list(SERVICE_CLASSES)):
        stopped = service(name, config).stop()
        print(f"{name}: {'stopped' if stopped else 'was not running'}", file=sys.stderr)
    return 0


def _baseline(args: argparse.Namespace, config: StackConfig) -> int:
    from torghut_sim.devstack.baseline import ensure_baseline  # noqa: PLC0415 - loads every client library

    print(json.dumps(ensure_baseline(config), indent=2, sort_keys=True))
    return 0


def _status(args: argparse.Namespace, config: StackConfig) -> int:
    statuses = [service(name, config).status() for name in (list(args.services) or list(SERVICE_CLASSES))]
    if args.json:
        print(json.dumps([asdict(s) for s in statuses], indent=2, sort_keys=True))
    else:
        for s in statuses:
            state = "healthy" if s.healthy else ("running" if s.running else "stopped")
            pids = " ".join(f"{role}={pid}" for role, pid in s.pids.items())
            ends = " ".join(f"{k}={v}" for k, v in s.endpoints.items())
            print(f"{s.name:<11} {state:<8} {pids}  {ends}")
    # Unnamed optional servers that are not running do not count against the stack's health.
    counted = [s for s in statuses if args.services or s.name not in OPTIONAL_SERVICES or s.running]
    return 0 if all(s.healthy for s in counted) else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `devstack`."""
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command, helptext in (
        ("up", "install if needed, start, and wait until healthy"),
        ("install", "fetch and build without starting"),
        ("down", "stop by PID"),
        ("status", "show what runs; exit 1 unless all named (or all started) servers are healthy"),
    ):
        p = sub.add_parser(command, help=helptext)
        p.add_argument("services", nargs="*", choices=[*SERVICE_CLASSES, []], metavar="SERVICE")
        if command == "status":
            p.add_argument("--json", action="store_true")
    sub.add_parser("baseline", help="load the production baseline: upstream objects, production schemas")
    seed_cli.register(sub)
    return parser


HANDLERS = {
    "up": _up,
    "install": _install,
    "down": _down,
    "status": _status,
    "baseline": _baseline,
    **seed_cli.HANDLERS,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `devstack` console script."""
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args, StackConfig())
    except DevstackError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
