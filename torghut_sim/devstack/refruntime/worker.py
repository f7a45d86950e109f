"""A background part of the reference runtime: a thread that runs its loop, survives failures, and stops.

A failing cycle is logged (without secrets) and retried after a back-off; the controller reads `ready`,
`last_error` and the stats to write the Kubernetes status.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from torghut_sim.devstack.refruntime.metrics import LOOP_FAILED_EVENT, RuntimeMetrics

BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)


class Worker(threading.Thread):
    """A daemon thread running `cycle()` until stopped; exceptions become `last_error` and a retry."""

    def __init__(self, name: str, log: logging.Logger) -> None:
        super().__init__(name=name, daemon=True)
        self.log = log
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.last_error: str | None = None
        self.failures = 0
        # The process's metrics, when this part reports its loop failures there.
        self.metrics: RuntimeMetrics | None = None
        # The Kafka producer and ClickHouse client a part opens in `setup` (None until then).
        self.producer: Any = None
        self.client: Any = None

    def setup(self) -> None:
        """Connect and check what the loop needs; sets `ready` when done."""

    def cycle(self) -> bool:
        """One unit of work; returns True when it did something (no pause before the next)."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Release connections (always called once on the way out)."""

    def close_producer_and_client(self) -> None:
        """Flush and drop the Kafka producer, close the ClickHouse client (each only when open)."""
        if self.producer is not None:
            self.producer.flush(10)
            self.producer = None
        if self.client is not None:
            self.client.close()
            self.client = None

    def run(self) -> None:
        """Set up, then cycle until stopped; a failure tears down and starts over after a back-off."""
        while not self.stop_event.is_set():
            try:
                self.setup()
                self.ready.set()
                self.last_error = None
                self.failures = 0
                while not self.stop_event.is_set():
                    if not self.cycle():
                        self.stop_event.wait(0.2)
            # The loop must outlive any failure of a server or of the data: log it, back off, retry.
            except Exception as exc:  # noqa: BLE001
                self.failures += 1
                if self.metrics is not None:
                    self.metrics.inc("torghut_trading_domain_telemetry_event_total", event=LOOP_FAILED_EVENT)
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                self.log.warning(
                    "%s cycle failed (attempt %d): %s", self.name, self.failures, self.last_error
                )
                self.ready.clear()
                self.stop_event.wait(BACKOFF_SECONDS[min(self.failures, len(BACKOFF_SECONDS)) - 1])
            finally:
                try:
                    self.teardown()
                except Exception as exc:  # noqa: BLE001 - closing must never mask the loop's own outcome
                    self.log.warning("%s teardown failed: %s", self.name, type(exc).__name__)
        self.log.info("%s stopped", self.name)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to finish its cycle and wait for it."""
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout)


def utc_ms(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def upsert_progress(
    conn: psycopg.Connection[Any], run_id: str, component: str, status: str, **fields: Any
) -> None:
    """Insert or update the `simulation_run_progress` row of one component."""
    payload = fields.pop("payload_json", {})
    columns = ["run_id", "component", "status", "payload_json", "updated_at", *fields]
    values = [run_id, component, status, Jsonb(payload), datetime.now(UTC), *fields.values()]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[2:])
    placeholders = ", ".join(["%s"] * len(columns))
    conn.execute(
        f"INSERT INTO simulation_run_progress ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT (run_id, component) DO UPDATE SET {updates}",
        values,
    )
