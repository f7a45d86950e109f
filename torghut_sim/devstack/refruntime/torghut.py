"""The Torghut part of the reference runtime: the stand-in for the simulation service `torghut-sim`.

Reads signals (`TRADING_SIGNAL_TABLE`) and prices (`TRADING_PRICE_TABLE`) from the local ClickHouse by
event time in fetch windows behind the TA's progress, runs `strategy.MacdRsiStrategy`, and writes per
window, in one Postgres transaction of the simulation database (`DB_DSN`): trade decisions, LLM reviews,
executions, order events (also published to `TRADING_ORDER_FEED_TOPIC`, whose offsets they record),
TCA rows, the advanced `trade_cursor` and the `torghut` row of `simulation_run_progress`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from confluent_kafka import Producer

from torghut_sim.devstack.market_day import ensure_topics
from torghut_sim.devstack.market_walk import iso_ms
from torghut_sim.devstack.refruntime.metrics import RuntimeMetrics
from torghut_sim.devstack.refruntime.order_feed import ORDER_FEED_PARTITIONS, publish_order_events
from torghut_sim.devstack.refruntime.settings import LocalEndpoints, TorghutSettings
from torghut_sim.devstack.refruntime.strategy import MacdRsiStrategy, SignalPoint, StrategyConfig, decide
from torghut_sim.devstack.refruntime.trade_rows import WindowRows, add_outcome_rows, count_outcome
from torghut_sim.devstack.refruntime.trade_tables import commit_window
from torghut_sim.devstack.refruntime.worker import Worker
from torghut_sim.kafka.group_offsets import read_group_offsets
from torghut_sim.naming import TA_GROUP_PREFIX, run_token_for
from torghut_sim.tables import POSTGRES_TABLES
from torghut_sim.topics import simulation_topic

# Once the TA has been quiet this long, its latest second is complete and may be read inclusively.
STABLE_SECONDS = 3.0
# The day counts as done when the last signal is this close to the window end, the TA is quiet and its
# consumer group has committed the whole of its input (a TA stalled by load is quiet too, but behind).
END_SLACK_MS = 15 * 60 * 1000
# The replayed roles the TA reads; the runtime's stand-in for knowing the TA has finished the window.
TA_INPUT_ROLES = ("trades", "quotes")
# Consecutive fetch windows without any signal after which signal continuity counts as breached.
CONTINUITY_BREACH_WINDOWS = 5
REQUIRED_FEATURES = ("macd_hist", "rsi14")


class TorghutWorker(Worker):
    """Signals in, decisions and simulated executions out, cursor advanced through the window."""

    def __init__(
        self,
        settings: TorghutSettings,
        endpoints: LocalEndpoints,
        log: logging.Logger,
        stable_seconds: float = STABLE_SECONDS,
        metrics: RuntimeMetrics | None = None,
    ) -> None:
        super().__init__("torghut", log)
        self.metrics = metrics or RuntimeMetrics()
        self.no_signal_streak = 0
        self.settings = settings
        self.endpoints = endpoints
        self.stable_seconds = stable_seconds
        self.run_token = run_token_for(settings.run_id)
        self.strategy = MacdRsiStrategy(StrategyConfig(allow_shorts=settings.allow_shorts))
        self.conn: psycopg.Connection[Any] | None = None
        self.cursor_ms = int(settings.window_start.timestamp() * 1000)
        self.window_end_ms = int(settings.window_end.timestamp() * 1000)
        self.seen: tuple[int | None, int] = (None, 0)
        self.seen_changed = time.monotonic()
        self.last_signal_ms: int | None = None
        self.completed = False
        self.signals_read = 0

    # --- set-up ---------------------------------------------------------------------------------------

    def setup(self) -> None:
        """Connect, check the schema, pick up the cursor and the positions already held."""
        s, e = self.settings, self.endpoints
        self.conn = psycopg.connect(s.db_dsn, connect_timeout=10)
        missing = [
            t
            for t in POSTGRES_TABLES
            if self.conn.execute("SELECT to_regclass(%s)", (f"public.{t}",)).fetchone() == (None,)
        ]
        self.conn.commit()
        if missing:
            raise RuntimeError(f"the simulation database lacks {', '.join(missing)} (run the migrations)")
        self.client = e.clickhouse_client()
        ensure_topics(e.bootstrap_servers, [s.order_feed_topic], ORDER_FEED_PARTITIONS)
        self.producer = Producer(
            {
                "bootstrap.servers": e.bootstrap_servers,
                "linger.ms": 5,
                "acks": "all",
                "enable.idempotence": True,
            }
        )
        self._load_state()
        self.log.info(
            "torghut: run %s from cursor %s, signals %s.%s", s.run_id, iso_ms(self.cursor_ms), *s.signal_table
        )

    def _load_state(self) -> None:
        assert self.conn is not None
        s = self.settings
        row = self.conn.execute(
            "SELECT cursor_at FROM trade_cursor WHERE source = %s AND account_label = %s",
            (s.signal_source, s.account_label),
        ).fetchone()
        start_ms = int(s.window_start.timestamp() * 1000)
        self.cursor_ms = max(start_ms, int(row[0].timestamp() * 1000)) if row else start_ms
        self.strategy.positions = {
            symbol: int(qty)
            for symbol, qty in self.conn.execute(
                "SELECT symbol, sum(CASE WHEN side = 'buy' THEN filled_qty ELSE -filled_qty END) "
                "FROM executions GROUP BY symbol"
            ).fetchall()
        }
        self.strategy.last_order_ms = {
            symbol: int(last.timestamp() * 1000)
            for symbol, last in self.conn.execute(
                "SELECT symbol, max((decision_json->>'event_ts')::timestamptz) FROM trade_decisions "
                "GROUP BY symbol"
            ).fetchall()
            if last is not None
        }
        self.completed = self.cursor_ms >= self.window_end_ms
        self.conn.commit()

    def teardown(self) -> None:
        """Close the clients."""
        self.close_producer_and_client()
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # --- the loop -------------------------------------------------------------------------------------

    def _table(self, pair: tuple[str, str]) -> str:
        return f"`{pair[0]}`.`{pair[1]}`"

    def _horizon(self) -> tuple[int | None, bool]:
        """The latest signal time and whether the TA has been quiet long enough to read it inclusively."""
        table = self._table(self.settings.signal_table)
        row = self.client.query(
            f"SELECT toUnixTimestamp64Milli(max(event_ts)), count() FROM {table}"
        ).result_rows[0]
        latest = int(row[0]) if int(row[1]) else None
        seen = (latest, int(row[1]))
        now = time.monotonic()
        if seen != self.seen:
            self.seen, self.seen_changed = seen, now
        return latest, now - self.seen_changed >= self.stable_seconds

    def cycle(self) -> bool:
        """Process the next fetch window the TA has completed; True when the cursor moved."""
        if self.completed:
            return False
        latest, stable = self._horizon()
        if latest is None:
            return False
        horizon = latest if stable else latest - 1
        fetch_ms = int(self.settings.fetch_window_seconds * 1000)
        upper = min(self.window_end_ms, self.cursor_ms + fetch_ms, horizon)
        if upper <= self.cursor_ms:
            if (
                stable
                and self.cursor_ms >= min(latest, self.window_end_ms)
                and (self.window_end_ms - latest <= END_SLACK_MS)
                and self._ta_caught_up()
            ):
                self._commit_window(self.window_end_ms, WindowRows([], [], [], [], []), completed=True)
                self.log.info("torghut: window complete at %s", iso_ms(self.window_end_ms))
            return False
        points = self._signals(self.cursor_ms, upper)
        rows = self._decide(points)
        streak = 0 if points else self.no_signal_streak + 1
        if not points:
            rows.count("no_signal_windows_total")
            rows.count("no_signal_reason_total", reason="no_signals_in_window")
        if streak == CONTINUITY_BREACH_WINDOWS:
            rows.count("signal_continuity_breach_total")
        publish_order_events(self.producer, self.settings.order_feed_topic, self.settings.run_id, rows.events)
        self._commit_window(upper, rows, completed=False)
        self._account(rows, streak)
        return True

    def _ta_caught_up(self) -> bool:
        """True when the run's TA group has committed its input topics up to their end offsets."""
        topics = [simulation_topic(role, self.run_token) for role in TA_INPUT_ROLES]
        offsets = read_group_offsets(
            {"bootstrap.servers": self.endpoints.bootstrap_servers},
            f"{TA_GROUP_PREFIX}{self.run_token}",
            topics,
        )
        if not offsets.caught_up:
            self.log.debug("torghut: the TA has %d input records left", offsets.remaining)
        return offsets.caught_up

    def _account(self, rows: WindowRows, streak: int) -> None:
        """The committed window's figures into the process metrics (a retried window counts once)."""
        metrics = self.metrics
        assert metrics is not None
        metrics.add_all(rows.counts)
        self.no_signal_streak = streak
        metrics.set("torghut_trading_no_signal_streak", streak)
        metrics.set(
            "torghut_trading_signal_continuity_alert_active", int(streak >= CONTINUITY_BREACH_WINDOWS)
        )

    def _signals(self, after_ms: int, upto_ms: int) -> list[SignalPoint]:
        s = self.settings
        where = (
            f"event_ts > fromUnixTimestamp64Milli(toInt64({after_ms}), 'UTC') "
            f"AND event_ts <= fromUnixTimestamp64Milli(toInt64({upto_ms}), 'UTC')"
        )
        prices: dict[tuple[str, int], float] = {}
        for symbol, ms, close in self.client.query(
            f"SELECT symbol, toUnixTimestamp64Milli(event_ts), c FROM {self._table(s.price_table)} "
            f"WHERE {where}"
        ).result_rows:
            prices.setdefault((str(symbol), int(ms)), float(close))
        points: dict[tuple[str, int], SignalPoint] = {}
        for symbol, ms, seq, hist, rsi, vwap, spread in self.client.query(
            "SELECT symbol, toUnixTimestamp64Milli(event_ts) AS ms, seq, macd_hist, rsi14, vwap_w5m, "
            f"imbalance_spread FROM {self._table(s.signal_table)} WHERE {where} ORDER BY ms, symbol, seq"
        ).result_rows:
            key = (str(symbol), int(ms))
            price = prices.get(key)
            # A replayed or duplicated TA row carries the same key; the first one is the signal.
            if price is None or key in points:
                continue
            points[key] = SignalPoint(key[0], key[1], int(seq), price, hist, rsi, vwap, spread)
        self.signals_read += len(points)
        return sorted(points.values(), key=lambda p: (p.event_ms, p.symbol))

    def _decide(self, points: list[SignalPoint]) -> WindowRows:
        s = self.settings
        rows = WindowRows([], [], [], [], [])
        strategy_id = self.strategy.config.strategy_id
        for point in points:
            missing = [name for name in REQUIRED_FEATURES if getattr(point, name) is None]
            if missing:
                rows.count("feature_quality_rejections_total")
                for name in missing:
                    rows.count("feature_quality_reject_reason_total", reason=f"required_feature_null:{name}")
            try:
                intent = self.strategy.on_signal(point)
            # A signal the strategy cannot evaluate is skipped and counted; the loop goes on.
            except (ArithmeticError, ValueError, TypeError) as exc:
                self.log.warning("torghut: strategy failed on %s: %s", point.symbol, type(exc).__name__)
                rows.count("strategy_errors_total", strategy_id=strategy_id)
                continue
            self.last_signal_ms = point.event_ms
            if self.strategy.suppressed:
                rows.count(
                    "strategy_intent_suppression_total",
                    strategy_id=strategy_id,
                    reason=self.strategy.suppressed,
                )
            if intent is None:
                continue
            rows.count("strategy_intents_total", strategy_id=strategy_id)
            outcome = decide(intent, s.run_id, s.model, s.prompt_version)
            if outcome.fill is not None and outcome.fill.filled_qty > 0:
                self.strategy.on_fill(point.symbol, intent.side, outcome.fill.filled_qty)
                held = self.strategy.positions.get(point.symbol, 0)
                rows.count(
                    "simulation_position_state_total",
                    state="long" if held > 0 else "short" if held < 0 else "flat",
                )
            count_outcome(outcome, rows)
            add_outcome_rows(
                outcome,
                intent.side,
                intent.reason,
                intent.target,
                point,
                rows,
                s,
                strategy_id,
                self.run_token,
            )
        return rows

    def _commit_window(self, upper_ms: int, rows: WindowRows, completed: bool) -> None:
        """Write the window's rows, move the cursor and the progress row, in one transaction."""
        assert self.conn is not None
        commit_window(
            self.conn,
            self.settings,
            upper_ms,
            rows,
            completed,
            self.last_signal_ms,
            self.signals_read,
            self.strategy,
        )
        self.cursor_ms = upper_ms
        self.completed = completed
