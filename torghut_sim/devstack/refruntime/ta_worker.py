"""The TA part of the reference runtime: the stand-in for the Flink job `torghut-ta-sim`.

Consumes the ConfigMap's trades and quotes topics with its group and offset reset, runs `ta.TaEngine`
by event time, batch-inserts microbars and signals into `<db>.ta_microbars` / `<db>.ta_signals` of the
local ClickHouse, publishes them (and a status heartbeat) to the ConfigMap's output topics, and keeps a
`ta` row in `simulation_run_progress` when it knows the run. A partition's offset is committed only up to
its first record not yet reflected in inserted rows (its bar still open, or its rows still pending), so
a group at the end offsets means the whole input is in ClickHouse: what the pipeline's monitor checks.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from torghut_sim.devstack.market_day import ensure_topics
from torghut_sim.devstack.market_walk import iso_ms
from torghut_sim.devstack.production_schema import SIGNAL_FLOATS, column_names
from torghut_sim.devstack.refruntime.settings import LocalEndpoints, TaSettings
from torghut_sim.devstack.refruntime.ta import TaEngine
from torghut_sim.devstack.refruntime.ta_indicators import Microbar, Signal
from torghut_sim.devstack.refruntime.worker import Worker, upsert_progress, utc_ms

FLUSH_ROWS = 5000
FLUSH_SECONDS = 1.0
PROGRESS_SECONDS = 2.0
STATUS_SECONDS = 5.0
OUTPUT_PARTITIONS = 3
# A partition with unread records is not idle, however long it was silent; past this much silence the
# backlog is no longer trusted (a stale high watermark must not hold every later second back forever).
BACKLOG_PATIENCE_SECONDS = 60.0
MICROBAR_COLUMNS = column_names("ta_microbars")
SIGNAL_COLUMNS = column_names("ta_signals")


@dataclass(frozen=True)
class RunLink:
    """Where the TA reports progress: the run's Postgres database and id (from the Knative env)."""

    db_dsn: str
    run_id: str


def microbar_row(bar: Microbar, ingest: datetime) -> list[Any]:
    """One `ta_microbars` row."""
    start, end = utc_ms(bar.start_ms), utc_ms(bar.end_ms)
    return [
        bar.symbol,
        end,
        bar.seq,
        ingest,
        1,
        "ta",
        "PT1S",
        "PT1S",
        start,
        end,
        1,
        bar.o,
        bar.h,
        bar.low,
        bar.c,
        bar.v,
        bar.vwap,
        bar.count,
    ]


def signal_row(sig: Signal, start_ms: int, ingest: datetime) -> list[Any]:
    """One `ta_signals` row."""
    end = utc_ms(sig.end_ms)
    return [
        sig.symbol,
        end,
        sig.seq,
        ingest,
        1,
        "ta",
        "PT1S",
        "PT1S",
        utc_ms(start_ms),
        end,
        1,
        *(sig.values.get(name) for name in SIGNAL_FLOATS),
        sig.bid_sz,
        sig.ask_sz,
        sig.microstructure,
    ]


def _json_envelope(channel: str, bar: Microbar, payload: dict[str, Any], ingest_ms: int) -> bytes:
    return orjson.dumps(
        {
            "ingest_ts": iso_ms(ingest_ms),
            "event_ts": iso_ms(bar.end_ms),
            "feed": "ta",
            "channel": channel,
            "symbol": bar.symbol,
            "seq": bar.seq,
            "is_final": True,
            "source": "ta",
            "window": {
                "size": "PT1S",
                "step": "PT1S",
                "start": iso_ms(bar.start_ms),
                "end": iso_ms(bar.end_ms),
            },
            "payload": payload,
            "version": 1,
        },
        option=orjson.OPT_SORT_KEYS,
    )


class TaWorker(Worker):
    """Event-time TA from the simulation topics into the simulation ClickHouse database."""

    def __init__(
        self,
        settings: TaSettings,
        endpoints: LocalEndpoints,
        run: RunLink | None,
        log: logging.Logger,
        idle_seconds: float = 3.0,
    ) -> None:
        super().__init__("ta", log)
        self.settings = settings
        self.endpoints = endpoints
        self.run_link = run
        self.idle_seconds = idle_seconds
        self.engine = TaEngine(
            settings.max_out_of_order_ms,
            settings.quote_stale_ms,
            settings.vwap_window_s,
            settings.vol_window_s,
            idle_seconds,
        )
        self.consumer: Any = None
        self.pending: list[tuple[Microbar, Signal]] = []
        self.last_flush = time.monotonic()
        self.last_progress = 0.0
        self.last_status = 0.0
        self.records = 0
        self.rows_written = 0
        self.last_signal_ms: int | None = None
        # Per input partition: (offset, emit_at) of consumed records not yet reflected in inserted rows,
        # the next offset after the last consumed record, and the offset committed last.
        self.unreflected: dict[tuple[str, int], deque[tuple[int, int | None]]] = {}
        self.consumed_to: dict[tuple[str, int], int] = {}
        self.committed: dict[tuple[str, int], int] = {}

    def setup(self) -> None:
        """Connect to ClickHouse and Kafka, check the tables exist, subscribe."""
        s, e = self.settings, self.endpoints
        # Like a stateless Flink restart: state starts empty, input resumes from the committed offsets.
        self.engine = TaEngine(
            s.max_out_of_order_ms, s.quote_stale_ms, s.vwap_window_s, s.vol_window_s, self.idle_seconds
        )
        self.pending = []
        self.unreflected, self.consumed_to, self.committed = {}, {}, {}
        self.client = e.clickhouse_client()
        for table in ("ta_microbars", "ta_signals"):
            exists = self.client.command(f"EXISTS TABLE `{s.database}`.`{table}`")
            if str(exists).strip() != "1":
                raise RuntimeError(f"ClickHouse table {s.database}.{table} does not exist")
        outputs = [t for t in (s.microbars_topic, s.signals_topic, s.status_topic) if t]
        if outputs:
            ensure_topics(e.bootstrap_servers, outputs, OUTPUT_PARTITIONS)
        self.producer = Producer(
            {
                "bootstrap.servers": e.bootstrap_servers,
                "linger.ms": 50,
                "batch.size": 1_000_000,
                "queue.buffering.max.messages": 1_000_000,
            }
        )
        self.consumer = Consumer(
            {
                "bootstrap.servers": e.bootstrap_servers,
                "group.id": s.group_id,
                "auto.offset.reset": s.auto_offset_reset,
                "enable.auto.commit": False,
                "client.id": "torghut-ta-sim-reference",
                # Offsets are committed explicitly once their records are in ClickHouse, not on a timer.
                "enable.auto.offset.store": False,
            }
        )
        engine = self.engine

        def on_assign(_consumer: Any, partitions: list[Any]) -> None:
            for tp in partitions:
                engine.expect((tp.topic, tp.partition), time.monotonic())

        self.consumer.subscribe([s.trades_topic, s.quotes_topic], on_assign=on_assign)
        self.log.info(
            "ta: consuming %s, %s as group %s (reset %s) into %s",
            s.trades_topic,
            s.quotes_topic,
            s.group_id,
            s.auto_offset_reset,
            s.database,
        )

    def cycle(self) -> bool:
        """Consume a batch, close the seconds the watermark passed, flush when due."""
        messages = self.consumer.consume(5000, timeout=0.2)
        now = time.monotonic()
        trades_topic = self.settings.trades_topic
        for msg in messages:
            if msg.error() is not None:
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    self.log.warning("ta: consume error %s", msg.error())
                continue
            key = (msg.topic(), msg.partition())
            if msg.topic() == trades_topic:
                emit_at = self.engine.add_trade(key, msg.value(), now)
            else:
                emit_at = self.engine.add_quote(key, msg.value(), now)
            self.unreflected.setdefault(key, deque()).append((msg.offset(), emit_at))
            self.consumed_to[key] = msg.offset() + 1
        self.records += len(messages)
        backlog = self.backlog(now)
        self.pending += self.engine.advance(now, backlog)
        due = self.pending and (len(self.pending) >= FLUSH_ROWS or now - self.last_flush >= FLUSH_SECONDS)
        if due:
            self.flush()
        if not self.pending:
            # Everything emitted is inserted: records dropped as late or malformed are committed too.
            self.commit_reflected(drained=self.engine.drained(now, backlog))
        self.report(now)
        return bool(messages)

    def backlog(self, now: float) -> set[tuple[str, int]]:
        """The partitions whose high watermark (as last fetched) is past what this worker consumed.

        A busy cycle (a slow insert on a loaded machine) leaves partitions silent with records waiting in
        the consumer; they must keep holding the watermark back, or their records are dropped as late."""
        waiting: set[tuple[str, int]] = set()
        for key, position in self.consumed_to.items():
            if now - self.engine.partition_seen_at.get(key, now) > BACKLOG_PATIENCE_SECONDS:
                continue
            _, high = self.consumer.get_watermark_offsets(TopicPartition(key[0], key[1]), cached=True)
            if high > position:
                waiting.add(key)
        return waiting

    def flush(self) -> None:
        """Insert the pending rows (both tables), publish them, then commit the consumed offsets."""
        ingest = datetime.now(UTC)
        ingest_ms = int(ingest.timestamp() * 1000)
        db = self.settings.database
        bars = [microbar_row(bar, ingest) for bar, _ in self.pending]
        signals = [signal_row(sig, bar.start_ms, ingest) for bar, sig in self.pending]
        self.client.insert("ta_microbars", bars, column_names=MICROBAR_COLUMNS, database=db)
        self.client.insert("ta_signals", signals, column_names=SIGNAL_COLUMNS, database=db)
        self.publish(ingest_ms)
        self.rows_written += len(self.pending)
        self.last_signal_ms = max(self.last_signal_ms or 0, self.pending[-1][1].end_ms)
        self.pending = []
        self.last_flush = time.monotonic()
        self.commit_reflected()

    def commit_reflected(self, drained: bool = False) -> None:
        """Commit each partition up to its first record whose output is not inserted yet (all, drained)."""
        offsets: list[TopicPartition] = []
        for key, queue in self.unreflected.items():
            while queue and (drained or self.engine.reflected(queue[0][1])):
                queue.popleft()
            position = queue[0][0] if queue else self.consumed_to[key]
            if position > self.committed.get(key, -1):
                offsets.append(TopicPartition(key[0], key[1], position))
        if offsets:
            self.consumer.commit(offsets=offsets, asynchronous=False)
            for tp in offsets:
                self.committed[(tp.topic, tp.partition)] = tp.offset

    def publish(self, ingest_ms: int) -> None:
        """Microbars and signals to their topics, when the ConfigMap names them."""
        s = self.settings
        if not (s.microbars_topic or s.signals_topic):
            return
        for bar, sig in self.pending:
            key = bar.symbol.encode()
            if s.microbars_topic:
                payload = {
                    "o": bar.o,
                    "h": bar.h,
                    "l": bar.low,
                    "c": bar.c,
                    "v": bar.v,
                    "vwap": bar.vwap,
                    "count": bar.count,
                }
                self._produce(
                    s.microbars_topic, key, _json_envelope("bars.1s", bar, payload, ingest_ms), bar.end_ms
                )
            if s.signals_topic:
                payload = {**sig.values, "imbalance_bid_sz": sig.bid_sz, "imbalance_ask_sz": sig.ask_sz}
                self._produce(
                    s.signals_topic, key, _json_envelope("signals", bar, payload, ingest_ms), bar.end_ms
                )
        self.producer.poll(0)

    def _produce(self, topic: str, key: bytes, value: bytes, ts: int) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, timestamp=ts)
            except BufferError:
                self.producer.poll(0.05)
            else:
                return

    def report(self, now: float) -> None:
        """The TA status heartbeat and the `ta` progress row, at their cadences."""
        stats = self.engine.stats
        figures = {
            "records": self.records,
            "trades": stats.trades,
            "quotes": stats.quotes,
            "malformed": stats.malformed,
            "late": stats.late,
            "bars": stats.bars,
            "rows_written": self.rows_written,
        }
        if self.settings.status_topic and now - self.last_status >= STATUS_SECONDS:
            self.last_status = now
            value = orjson.dumps(
                {"status": "running", "last_signal_ts": self._last_iso(), **figures},
                option=orjson.OPT_SORT_KEYS,
            )
            self._produce(self.settings.status_topic, b"torghut-ta-sim", value, int(time.time() * 1000))
            self.producer.poll(0)
        if self.run_link is not None and now - self.last_progress >= PROGRESS_SECONDS:
            self.last_progress = now
            with psycopg.connect(self.run_link.db_dsn, connect_timeout=5, autocommit=True) as conn:
                upsert_progress(
                    conn,
                    self.run_link.run_id,
                    "ta",
                    "running",
                    last_signal_ts=utc_ms(self.last_signal_ms) if self.last_signal_ms else None,
                    payload_json=figures,
                )

    def _last_iso(self) -> str | None:
        return iso_ms(self.last_signal_ms) if self.last_signal_ms else None

    def teardown(self) -> None:
        """Flush what is pending when possible, then close the clients."""
        if self.pending and self.client is not None:
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - the rows are re-derived from uncommitted offsets
                self.log.warning("ta: final flush failed: %s", type(exc).__name__)
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        self.close_producer_and_client()
