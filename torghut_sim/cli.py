"""`torghut-sim`: the command line of the domain (plan, dump, replay, apply, teardown, report, …)."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType

from torghut_sim.commands import apply, cleanup, dump, plan, replay, report, status, teardown
from torghut_sim.commands.exit_codes import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from torghut_sim.errors import TorghutSimError

# Each subcommand lives in `torghut_sim/commands/<name>.py` with `register(subparsers)`; the registered
# handler is the parser default `handler` and returns the exit code. The command modules import their
# heavy clients (Kubernetes, the report's dataframe stack) inside their handlers, so that building every
# parser stays cheap: `torghut-sim dump --help` never pays for polars.
COMMANDS: tuple[ModuleType, ...] = (plan, dump, replay, apply, teardown, status, cleanup, report)

__all__ = ["COMMANDS", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="torghut-sim", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `torghut-sim` console script: one readable line on errors, unless --debug."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
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
