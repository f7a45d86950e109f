"""`torghut-sim`: the command line of the domain (plan, dump, replay, apply, teardown, report, …)."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Protocol

from torghut_sim.errors import TorghutSimError

# Each subcommand lives in `torghut_sim/commands/<name>.py` with `register(subparsers)`; the
# registered handler is stored as the parser default `handler` and returns the exit code.
COMMAND_MODULES: tuple[str, ...] = (
    "plan",
    "dump",
    "replay",
    "apply",
    "teardown",
    "status",
    "cleanup",
    "report",
)

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class CommandModule(Protocol):
    """What a subcommand module provides."""

    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add the subcommand's parser, with `handler` set as a default."""


Handler = Callable[[argparse.Namespace], int]


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand an argument list names (its first non-option word), if it is one of ours."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMAND_MODULES else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand whose module exists, or with just `only`.

    Each command module imports its own clients (Kubernetes, Kafka, the report's chart stack); building
    only the chosen command's parser keeps `torghut-sim dump --help` from paying for all of them.
    """
    parser = argparse.ArgumentParser(prog="torghut-sim", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in (only,) if only else COMMAND_MODULES:
        try:
            module = importlib.import_module(f"torghut_sim.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"torghut_sim.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `torghut-sim` console script: one readable line on errors, unless --debug."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(chosen_command(arguments))
    args = parser.parse_args(arguments)
    handler: Handler = args.handler
    try:
        return handler(args)
    except TorghutSimError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"torghut-sim: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("torghut-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
