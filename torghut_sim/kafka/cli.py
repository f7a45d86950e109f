"""Command-line plumbing of the Kafka commands: connection options, instants, topic overrides, progress."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from torghut_sim.errors import TorghutSimError
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.progress import Progress, ProgressCallback, stderr_progress_line
from torghut_sim.topics import DUMPED_ROLES


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """Options naming the Kafka cluster; the SASL password only ever comes from an environment variable."""
    parser.add_argument("--bootstrap-servers", required=True, help="host:port[,host:port]")
    parser.add_argument("--security-protocol", default="PLAINTEXT")
    parser.add_argument("--sasl-mechanism")
    parser.add_argument("--sasl-username")
    parser.add_argument(
        "--sasl-password-env", help="name of the environment variable holding the SASL password"
    )


def connection_from_args(args: argparse.Namespace) -> KafkaConnection:
    """The connection the options describe."""
    password = None
    if args.sasl_password_env:
        password = os.environ.get(args.sasl_password_env)
        if password is None:
            raise TorghutSimError(
                f"environment variable {args.sasl_password_env} is not set", "secret_missing"
            )
    return KafkaConnection(
        bootstrap_servers=args.bootstrap_servers,
        security_protocol=args.security_protocol,
        sasl_mechanism=args.sasl_mechanism,
        sasl_username=args.sasl_username,
        sasl_password=password,
    )


def add_source_topic_args(parser: argparse.ArgumentParser) -> None:
    """`--source-topic ROLE=TOPIC`, repeatable."""
    parser.add_argument(
        "--source-topic",
        action="append",
        default=[],
        metavar="ROLE=TOPIC",
        help="override a role's source topic (repeatable)",
    )


def source_topics_from_args(args: argparse.Namespace) -> dict[str, str]:
    """Role -> source topic: production names with the overrides applied."""
    topics = {r.role: r.source for r in DUMPED_ROLES}
    for item in args.source_topic:
        role, _, topic = item.partition("=")
        if role not in topics or not topic:
            raise TorghutSimError(
                f"--source-topic {item!r}: expected one of {sorted(topics)}=TOPIC", "cli_argument_invalid"
            )
        topics[role] = topic
    return topics


def parse_utc(text: str) -> datetime:
    """An ISO-8601 instant; a naive one is refused rather than guessed."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no timezone; use e.g. 2026-03-06T14:30:00Z")
    return moment.astimezone(UTC)


def terminal_progress() -> ProgressCallback | None:
    """A `\\r`-updated stderr line when stderr is a terminal, else nothing."""
    if not sys.stderr.isatty():
        return None

    def show(progress: Progress) -> None:
        end = "\n" if progress.done else ""
        sys.stderr.write("\r" + stderr_progress_line(progress).ljust(100) + end)
        sys.stderr.flush()

    return show
