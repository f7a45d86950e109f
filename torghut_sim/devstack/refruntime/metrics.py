"""The reference runtime's `GET /metrics`: the `torghut_trading_*` families of CONTRACTS §10, in memory.

Hand-rendered Prometheus text 0.0.4: counters and gauges only, `# HELP`/`# TYPE` for every family,
labelled families emitted even when empty, and `torghut_process_role_info{role="simulation"} 1`. The
values live in this process: a new simulation run keeps counting, a restart starts from zero.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LOOPBACK = "127.0.0.1"

# name → (type, label names, help); every family a report reads, in the order they are rendered.
FAMILIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "torghut_trading_decisions_total": ("counter", (), "Trade decisions written."),
    "torghut_trading_decision_state_total": ("counter", ("status",), "Trade decisions by written status."),
    "torghut_trading_orders_submitted_total": ("counter", (), "Orders submitted to the broker adapter."),
    "torghut_trading_orders_rejected_total": ("counter", (), "Decisions rejected before or at submit."),
    "torghut_trading_decision_reject_reason_total": ("counter", ("reason",), "Atomic reject reasons."),
    "torghut_trading_submission_block_total": ("counter", ("reason",), "Atomic submission block reasons."),
    "torghut_trading_reconcile_updates_total": ("counter", (), "Order updates reconciled into executions."),
    "torghut_trading_strategy_intents_total": ("counter", ("strategy_id",), "Strategy intents emitted."),
    "torghut_trading_strategy_intent_suppression_total": (
        "counter",
        ("strategy_id", "reason"),
        "Strategy intents dropped before a trade decision existed.",
    ),
    "torghut_trading_strategy_errors_total": ("counter", ("strategy_id",), "Strategy evaluation errors."),
    "torghut_trading_rejected_signal_reason_total": ("counter", ("reason",), "Signals refused by reason."),
    "torghut_trading_no_signal_windows_total": ("counter", (), "Fetch windows without any signal."),
    "torghut_trading_no_signal_reason_total": ("counter", ("reason",), "No-signal windows by reason."),
    "torghut_trading_no_signal_streak": ("gauge", (), "Consecutive fetch windows without a signal."),
    "torghut_trading_signal_staleness_alert_total": ("counter", ("reason",), "Signal staleness alerts."),
    "torghut_trading_signal_continuity_alert_active": ("gauge", (), "1 while signal continuity is breached."),
    "torghut_trading_signal_continuity_breach_total": ("counter", (), "Signal continuity breaches."),
    "torghut_trading_feature_quality_rejections_total": ("counter", (), "Signals failing feature quality."),
    "torghut_trading_feature_quality_reject_reason_total": (
        "counter",
        ("reason",),
        "Feature-quality failures by reason.",
    ),
    "torghut_trading_execution_fallback_total": ("counter", ("from", "to"), "Execution adapter fallbacks."),
    "torghut_trading_llm_requests_total": ("counter", (), "LLM review requests."),
    "torghut_trading_llm_approve_total": ("counter", (), "LLM reviews that approved."),
    "torghut_trading_llm_veto_total": ("counter", (), "LLM reviews that vetoed."),
    "torghut_trading_llm_adjust_total": ("counter", (), "LLM reviews that adjusted."),
    "torghut_trading_llm_abstain_total": ("counter", (), "LLM reviews that abstained."),
    "torghut_trading_llm_escalate_total": ("counter", (), "LLM reviews that escalated."),
    "torghut_trading_llm_error_total": ("counter", (), "LLM reviews that failed."),
    "torghut_trading_llm_tokens_prompt_total": ("counter", (), "LLM prompt tokens."),
    "torghut_trading_llm_tokens_completion_total": ("counter", (), "LLM completion tokens."),
    "torghut_trading_drift_rollback_trigger_total": ("counter", (), "Drift rollbacks triggered."),
    "torghut_trading_domain_telemetry_event_total": ("counter", ("event",), "Domain telemetry events."),
    "torghut_trading_simulation_position_state_total": (
        "counter",
        ("state",),
        "Position states reached after simulated fills.",
    ),
    "torghut_process_role_info": ("gauge", ("role",), "The role of this Torghut process."),
}
LOOP_FAILED_EVENT = "torghut.runtime.loop_failed"
Key = tuple[str, tuple[tuple[str, str], ...]]


class UnknownMetricError(KeyError):
    """A family or label set the runtime does not declare (a programming error)."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class RuntimeMetrics:
    """Thread-safe counters and gauges of the declared families."""

    def __init__(self, role: str = "simulation") -> None:
        self._lock = threading.Lock()
        self._values: dict[Key, float] = {}
        self._values[("torghut_process_role_info", (("role", role),))] = 1.0

    def _key(self, name: str, labels: Mapping[str, str]) -> Key:
        spec = FAMILIES.get(name)
        if spec is None or set(labels) != set(spec[1]):
            raise UnknownMetricError(f"{name}{sorted(labels)}")
        return name, tuple(sorted((k, str(v)) for k, v in labels.items()))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add to a counter (never negative)."""
        if amount < 0:
            raise ValueError("counters only grow")
        key = self._key(name, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge."""
        key = self._key(name, labels)
        with self._lock:
            self._values[key] = float(value)

    def add_all(self, increments: Iterable[tuple[str, float, Mapping[str, str]]]) -> None:
        """Several counter increments at once (a committed window's figures)."""
        for name, amount, labels in increments:
            self.inc(name, amount, **labels)

    def value(self, name: str, **labels: str) -> float:
        """One sample's current value (0 when never touched)."""
        key = self._key(name, labels)
        with self._lock:
            return self._values.get(key, 0.0)

    def render(self) -> str:
        """The exposition text: families in declaration order, samples in label order."""
        with self._lock:
            values = dict(self._values)
        lines: list[str] = []
        for name, (kind, label_names, help_text) in FAMILIES.items():
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            samples = sorted((labels, v) for (n, labels), v in values.items() if n == name)
            if not label_names and not samples:
                samples = [((), 0.0)]
            for labels, value in samples:
                inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{inner}}} {_number(value)}" if labels else f"{name} {_number(value)}")
        return "\n".join(lines) + "\n"


class MetricsServer:
    """`GET /metrics` on loopback, in a daemon thread; port 0 picks a free one."""

    def __init__(self, metrics: RuntimeMetrics, port: int = 0, log: logging.Logger | None = None) -> None:
        registry = metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                body = registry.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                """Scrapes are not worth a log line each."""

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)
        self.log = log

    @property
    def url(self) -> str:
        """Where the endpoint answers."""
        return f"http://{LOOPBACK}:{self.server.server_address[1]}/metrics"

    def start(self) -> MetricsServer:
        """Serve in the background."""
        self.thread.start()
        if self.log is not None:
            self.log.info("metrics: serving %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
