"""`python -m torghut_sim.devstack.refruntime`: run the reference runtime controller for one namespace."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from torghut_sim.devstack.refruntime.controller import Controller, ObjectNames
from torghut_sim.devstack.refruntime.metrics import MetricsServer, RuntimeMetrics
from torghut_sim.devstack.refruntime.settings import LocalEndpoints


def build_parser() -> argparse.ArgumentParser:
    """The controller's command line."""
    p = argparse.ArgumentParser(prog="python -m torghut_sim.devstack.refruntime", description=__doc__)
    p.add_argument("--namespace", default="torghut", help="the runtime namespace to watch")
    p.add_argument("--service", default=ObjectNames.service, help="Knative Service name")
    p.add_argument("--flink", default=ObjectNames.flink, help="FlinkDeployment name")
    p.add_argument("--configmap", default=ObjectNames.configmap, help="TA ConfigMap name")
    p.add_argument("--heartbeat", type=Path, default=None, help="file rewritten after every cycle")
    p.add_argument("--kubeconfig", default=None, help="default: the local stack's kubeconfig")
    p.add_argument("--poll-seconds", type=float, default=1.0)
    p.add_argument(
        "--idle-seconds",
        type=float,
        default=3.0,
        help="input silence after which the TA closes its open seconds",
    )
    p.add_argument(
        "--stable-seconds",
        type=float,
        default=3.0,
        help="TA silence after which Torghut reads the latest second inclusively",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("TORGHUT_DEVSTACK_RUNTIME_METRICS_PORT") or 0),
        help="loopback port of GET /metrics (0: a free one; announced in the Service status)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s", stream=sys.stderr
    )
    # Client libraries log request details at INFO; the runtime's own lines are what the log is for.
    for noisy in ("kubernetes", "urllib3", "clickhouse_connect"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log = logging.getLogger("refruntime")
    endpoints = LocalEndpoints.from_stack()
    if args.kubeconfig:
        endpoints = replace(endpoints, kubeconfig=args.kubeconfig)
    metrics = RuntimeMetrics()
    server = MetricsServer(metrics, args.metrics_port, log).start()
    controller = Controller(
        args.namespace,
        endpoints,
        log,
        names=ObjectNames(args.service, args.flink, args.configmap),
        heartbeat=args.heartbeat,
        poll_seconds=args.poll_seconds,
        idle_seconds=args.idle_seconds,
        stable_seconds=args.stable_seconds,
        metrics=metrics,
        metrics_url=server.url,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("controller: signal %d, stopping", signum)
        controller.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        controller.run()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
