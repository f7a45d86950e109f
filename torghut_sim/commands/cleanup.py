"""`torghut-sim cleanup --older-than 14d [--execute]`: drop the simulation databases and topics of
finished runs older than the retention.

Dry run by default: lists every simulation object found and what would happen to it. Secrets come from
environment variables named by flags, never from the command line. The run holding the runtime lock is
always kept: it is read from the lock ConfigMap (`--kubeconfig`), or named with `--locked-run-token`; an
`--execute` that knows neither is refused rather than risk dropping a live run's databases.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from torghut_sim.commands.exit_codes import EXIT_OK, EXIT_USAGE
from torghut_sim.guards import Mutation, guard_mutation
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.lock import read_lock
from torghut_sim.stores.errors import CleanupRefusedError

if TYPE_CHECKING:
    from torghut_sim.stores.cleanup import CleanupPlan


def _key_value(text: str) -> tuple[str, str]:
    """A `key=value` argument."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    return key, value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `cleanup` subcommand."""
    parser = subparsers.add_parser(
        "cleanup", help="drop databases, topics and consumer groups of old finished runs"
    )
    parser.add_argument("--older-than", required=True, help="retention, e.g. 14d or 36h")
    parser.add_argument("--execute", action="store_true", help="really drop (default: dry run)")
    parser.add_argument("--kubeconfig", type=Path, help="read the runtime lock's holder from this cluster")
    parser.add_argument("--runtime-namespace", default="torghut", help="namespace of the runtime lock")
    parser.add_argument("--locked-run-token", help="the run token holding the runtime lock (always kept)")
    parser.add_argument("--clickhouse-url", action="append", default=[], help="ClickHouse HTTP URL (repeat)")
    parser.add_argument("--clickhouse-user", default="torghut")
    parser.add_argument("--clickhouse-password-env", default="TORGHUT_CLICKHOUSE_PASSWORD")
    parser.add_argument(
        "--postgres-admin-dsn-env", help="environment variable holding the Postgres admin DSN"
    )
    parser.add_argument("--kafka-bootstrap", help="Kafka bootstrap servers")
    parser.add_argument(
        "--kafka-config", type=_key_value, action="append", default=[], help="librdkafka key=value (repeat)"
    )
    parser.add_argument("--kafka-password-env", help="environment variable holding sasl.password")
    parser.add_argument("--token-prefix", default="", help="only runs whose token starts with this")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(handler=partial(_handle, parser))


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CleanupRefusedError(f"environment variable {name} is not set")
    return value


def _print(plan: CleanupPlan, as_json: bool, executed: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "cutoff": plan.cutoff.isoformat(),
                    "locked_run_token": plan.locked_run_token,
                    "executed": executed,
                    "items": [i.to_json() for i in plan.items],
                },
                indent=2,
                sort_keys=True,
            )
        )
        return
    verb = "dropped" if executed else "would drop"
    for item in plan.items:
        action = verb if item.action == "drop" else "keep"
        print(f"{action:10} {item.kind:19} {item.name}  ({item.reason}; {item.server})")
    print(
        f"{len(plan.to_drop)} to drop, {len(plan.items) - len(plan.to_drop)} kept"
        + ("" if executed else " — dry run, pass --execute to drop")
    )


def locked_run_token(args: argparse.Namespace) -> str | None:
    """The run token to spare: the lock holder read from the cluster, else the one given by flag."""
    if args.kubeconfig is not None:
        with Kube.from_kubeconfig(args.kubeconfig) as kube:
            holder = read_lock(kube, args.runtime_namespace)
        if holder is not None:
            return holder.run_token
    if args.locked_run_token:
        return str(args.locked_run_token)
    if args.execute and args.kubeconfig is None:
        raise CleanupRefusedError(
            "cannot tell which run holds the runtime lock: pass --kubeconfig (or --locked-run-token)"
        )
    return None


def cleanup_mutation(plan: CleanupPlan) -> Mutation:
    """What `--execute` drops, for the shared guards: only simulation databases, topics and groups."""
    from torghut_sim.stores.cleanup import KIND_CLICKHOUSE, KIND_GROUP, KIND_POSTGRES, KIND_TOPIC  # noqa: PLC0415

    drop = plan.to_drop

    def names(kind: str) -> tuple[str, ...]:
        return tuple(i.name for i in drop if i.kind == kind)

    return Mutation(
        entry_point="cleanup",
        clickhouse_databases=names(KIND_CLICKHOUSE),
        postgres_databases=names(KIND_POSTGRES),
        topics=tuple((t, t) for t in names(KIND_TOPIC)),
        consumer_groups=names(KIND_GROUP),
    )


def _handle(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    # The store clients (ClickHouse, Postgres, Kafka admin) load only when a cleanup really runs, so that
    # every other command's start-up (`torghut-sim dump --help`) stays free of them.
    from torghut_sim.stores.cleanup import execute_cleanup, parse_retention, plan_cleanup  # noqa: PLC0415
    from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint  # noqa: PLC0415

    try:
        older_than = parse_retention(args.older_than)
    except CleanupRefusedError as exc:
        parser.print_usage(sys.stderr)
        print(f"torghut-sim cleanup: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    password = os.environ.get(args.clickhouse_password_env, "")
    clickhouse = [ClickHouseEndpoint(url, args.clickhouse_user, password) for url in args.clickhouse_url]
    admin_dsn = _env(args.postgres_admin_dsn_env) if args.postgres_admin_dsn_env else None
    kafka: dict[str, str] | None = None
    if args.kafka_bootstrap:
        kafka = {"bootstrap.servers": args.kafka_bootstrap, **dict(args.kafka_config)}
        if args.kafka_password_env:
            kafka["sasl.password"] = _env(args.kafka_password_env)
    plan = plan_cleanup(
        datetime.now(UTC), older_than, locked_run_token(args), clickhouse, admin_dsn, kafka, args.token_prefix
    )
    if args.execute:
        guard_mutation(cleanup_mutation(plan))
        execute_cleanup(plan, clickhouse, admin_dsn, kafka)
    _print(plan, args.json, args.execute)
    return EXIT_OK
