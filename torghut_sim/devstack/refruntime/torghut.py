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
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from confluent_kafka import KafkaError, Producer
from psycopg.types.json import Jsonb

from torghut_sim.devstack.market_day import ensure_topics
from torghut_sim.devstack.market_walk import iso_ms
from torghut_sim.devstack.refruntime.metrics import RuntimeMetrics
from torghut_sim.devstack.refruntime.settings import LocalEndpoints, TorghutSettings
from torghut_sim.devstack.refruntime.strategy import (
    MacdRsiStrategy,
    Outcome,
    SignalPoint,
    StrategyConfig,
    decide,
    stable_id,
    tca,
)
from torghut_sim.devstack.refruntime.worker import Worker, upsert_progress, utc_ms
from torghut_sim.kafka.group_offsets import read_group_offsets
from torghut_sim.naming import TA_GROUP_PREFIX, run_token_for
from torghut_sim.tables import POSTGRES_TABLES
from torghut_sim.topics import simulation_topic

ORDER_FEED_PARTITIONS = 3
# Once the TA has been quiet this long, its latest second is complete and may be read inclusively.
STABLE_SECONDS = 3.0
# The day counts as done when the last signal is this close to the window end, the TA is quiet and its
# consumer group has committed the whole of its input (a TA stalled by load is quiet too, but behind).
END_SLACK_MS = 15 * 60 * 1000
# The replayed roles the TA reads; the runtime's stand-in for knowing the TA has finished the window.
TA_INPUT_ROLES = ("trades", "quotes")
DECISION_COLUMNS = (
    "id",
    "strategy_id",
    "alpaca_account_label",
    "symbol",
    "timeframe",
    "decision_json",
    "status",
    "created_at",
    "executed_at",
)
REVIEW_COLUMNS = (
    "id",
    "trade_decision_id",
    "model",
    "prompt_version",
    "verdict",
    "confidence",
    "tokens_prompt",
    "tokens_completion",
    "risk_flags",
    "response_json",
    "created_at",
)
EXECUTION_COLUMNS = (
    "id",
    "trade_decision_id",
    "alpaca_order_id",
    "client_order_id",
    "symbol",
    "side",
    "order_type",
    "time_in_force",
    "submitted_qty",
    "filled_qty",
    "avg_fill_price",
    "status",
    "created_at",
    "last_update_at",
    "order_feed_last_event_ts",
    "execution_expected_adapter",
    "execution_actual_adapter",
    "execution_fallback_reason",
    "execution_fallback_count",
)
EVENT_COLUMNS = (
    "id",
    "execution_id",
    "trade_decision_id",
    "source_topic",
    "source_partition",
    "source_offset",
    "event_ts",
    "symbol",
    "event_type",
    "status",
    "qty",
    "filled_qty",
    "avg_fill_price",
    "created_at",
)
TCA_COLUMNS = (
    "execution_id",
    "trade_decision_id",
    "strategy_id",
    "symbol",
    "side",
    "filled_qty",
    "avg_fill_price",
    "arrival_price",
    "shortfall_notional",
    "slippage_bps",
    "realized_shortfall_bps",
    "divergence_bps",
    "computed_at",
)
PROGRESS_COUNTS = ("trade_decisions", "executions", "execution_tca_metrics", "execution_order_events")
# Consecutive fetch windows without any signal after which signal continuity counts as breached.
CONTINUITY_BREACH_WINDOWS = 5
REQUIRED_FEATURES = ("macd_hist", "rsi14")


def _insert(table: str, columns: tuple[str, ...]) -> str:
    """An idempotent INSERT: rows have deterministic ids, so a retried window adds nothing twice."""
    placeholders = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"


@dataclass
class _Rows:
    """The rows of one fetch window, per table."""

    decisions: list[tuple[Any, ...]]
    reviews: list[tuple[Any, ...]]
    executions: list[tuple[Any, ...]]
    events: list[dict[str, Any]]
    tca: list[tuple[Any, ...]]
    # Counter increments of the window, applied to the process metrics once its transaction committed.
    counts: list[tuple[str, float, dict[str, str]]] = field(default_factory=list)

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Queue one increment of a `torghut_trading_*` counter."""
        self.counts.append((f"torghut_trading_{name}", amount, labels))


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
                self._commit_window(self.window_end_ms, _Rows([], [], [], [], []), completed=True)
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
        self._publish(rows.events)
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

    def _account(self, rows: _Rows, streak: int) -> None:
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

    def _decide(self, points: list[SignalPoint]) -> _Rows:
        s = self.settings
        rows = _Rows([], [], [], [], [])
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
            self._count_outcome(outcome, rows)
            self._rows_of(outcome, intent.side, intent.reason, intent.target, point, rows)
        return rows

    @staticmethod
    def _count_outcome(out: Outcome, rows: _Rows) -> None:
        """The counters one decision moves: its state, reasons, order, order updates and review."""
        rows.count("decisions_total")
        rows.count("decision_state_total", status=out.decision_status)
        if out.decision_status == "rejected":
            rows.count("orders_rejected_total")
        for reason in out.not_executed.get("reject_reason_atomic", []):
            rows.count("decision_reject_reason_total", reason=reason)
        for reason in out.not_executed.get("submission_block_atomic", []):
            rows.count("submission_block_total", reason=reason)
        if out.fill is not None:
            rows.count("orders_submitted_total")
            rows.count("reconcile_updates_total", len(out.fill.events))
        review = out.review
        rows.count("llm_requests_total")
        rows.count(f"llm_{review.verdict}_total")
        rows.count("llm_tokens_prompt_total", review.tokens_prompt)
        rows.count("llm_tokens_completion_total", review.tokens_completion)

    def _rows_of(
        self, out: Outcome, side: str, reason: str, target: int, point: SignalPoint, rows: _Rows
    ) -> None:
        s = self.settings
        signal_iso = iso_ms(point.event_ms)
        fill = out.fill
        executed_ms = fill.events[-1].at_ms if fill is not None and fill.filled_qty > 0 else None
        decision_json = {
            "strategy_id": self.strategy.config.strategy_id,
            "symbol": point.symbol,
            "action": side,
            "qty": out.qty,
            "order_type": "market",
            "time_in_force": "day",
            "timeframe": "1Sec",
            "event_ts": signal_iso,
            "rationale": reason,
            "target_position": target,
            "llm_review": {"verdict": out.review.verdict, "model": s.model},
            "params": {
                "price": point.price,
                "macd_hist": point.macd_hist,
                "rsi14": point.rsi14,
                "vwap_w5m": point.vwap_w5m,
                "spread": point.spread,
                "simulation_context": {
                    "simulation_run_id": s.run_id,
                    "dataset_id": s.dataset_id,
                    "signal_event_ts": signal_iso,
                    "signal_seq": point.seq,
                    "source": "ta",
                },
            },
            **out.not_executed,
        }
        rows.decisions.append(
            (
                out.decision_id,
                self.strategy.config.strategy_id,
                s.account_label,
                point.symbol,
                "1Sec",
                Jsonb(decision_json),
                out.decision_status,
                utc_ms(out.decision_ms),
                utc_ms(executed_ms) if executed_ms else None,
            )
        )
        review = out.review
        rows.reviews.append(
            (
                stable_id(out.decision_id, "review"),
                out.decision_id,
                s.model,
                s.prompt_version,
                review.verdict,
                review.confidence,
                review.tokens_prompt,
                review.tokens_completion,
                Jsonb(review.risk_flags),
                Jsonb(review.response),
                utc_ms(review.at_ms),
            )
        )
        if fill is None:
            return
        execution_id = stable_id(out.decision_id, "execution")
        order_id = str(stable_id(out.decision_id, "order"))
        client_order_id = f"{self.run_token}-{out.decision_id.hex[:16]}"
        last_ms = fill.events[-1].at_ms
        rows.executions.append(
            (
                execution_id,
                out.decision_id,
                order_id,
                client_order_id,
                point.symbol,
                side,
                "market",
                "day",
                out.qty,
                fill.filled_qty,
                fill.avg_fill_price,
                fill.status,
                utc_ms(fill.submitted_ms),
                utc_ms(last_ms),
                utc_ms(last_ms),
                "simulation",
                "simulation",
                None,
                0,
            )
        )
        for index, event in enumerate(fill.events):
            rows.events.append(
                {
                    "id": stable_id(execution_id, "event", index, event.event_type),
                    "execution_id": execution_id,
                    "decision_id": out.decision_id,
                    "symbol": point.symbol,
                    "event": event,
                    "order_id": order_id,
                    "client_order_id": client_order_id,
                    "side": side,
                }
            )
        if fill.filled_qty > 0 and fill.avg_fill_price is not None:
            figures = tca(
                side, out.arrival_price, fill.avg_fill_price, fill.filled_qty, out.qty, point.vwap_w5m
            )
            rows.tca.append(
                (
                    execution_id,
                    out.decision_id,
                    self.strategy.config.strategy_id,
                    point.symbol,
                    side,
                    fill.filled_qty,
                    fill.avg_fill_price,
                    figures["arrival_price"],
                    figures["shortfall_notional"],
                    figures["slippage_bps"],
                    figures["realized_shortfall_bps"],
                    figures["divergence_bps"],
                    utc_ms(last_ms),
                )
            )

    def _publish(self, events: list[dict[str, Any]]) -> None:
        """Order updates to the run's trade-updates topic; each event learns its partition and offset."""
        if not events:
            return
        failures: list[KafkaError] = []

        def delivered(item: dict[str, Any]) -> Any:
            def callback(err: KafkaError | None, msg: Any) -> None:
                if err is not None:
                    failures.append(err)
                else:
                    item["partition"], item["offset"] = msg.partition(), msg.offset()

            return callback

        topic = self.settings.order_feed_topic
        for item in events:
            event = item["event"]
            value = orjson.dumps(
                {
                    "event": event.event_type,
                    "execution_id": str(item["execution_id"]),
                    "timestamp": iso_ms(event.at_ms),
                    "simulation_run_id": self.settings.run_id,
                    "order": {
                        "id": item["order_id"],
                        "client_order_id": item["client_order_id"],
                        "symbol": item["symbol"],
                        "side": item["side"],
                        "qty": event.qty,
                        "filled_qty": event.filled_qty,
                        "filled_avg_price": event.avg_fill_price,
                        "status": event.status,
                        "type": "market",
                    },
                },
                option=orjson.OPT_SORT_KEYS,
            )
            self.producer.produce(
                topic, value, item["symbol"].encode(), timestamp=event.at_ms, on_delivery=delivered(item)
            )
        remaining = self.producer.flush(30)
        if remaining or failures:
            raise RuntimeError(f"order feed: {len(failures)} failed, {remaining} undelivered")

    def _commit_window(self, upper_ms: int, rows: _Rows, completed: bool) -> None:
        """Write the window's rows, move the cursor and the progress row, in one transaction."""
        assert self.conn is not None
        s = self.settings
        with self.conn.transaction():
            cur = self.conn.cursor()
            if rows.decisions:
                cur.executemany(_insert("trade_decisions", DECISION_COLUMNS), rows.decisions)
                cur.executemany(_insert("llm_decision_reviews", REVIEW_COLUMNS), rows.reviews)
            if rows.executions:
                cur.executemany(_insert("executions", EXECUTION_COLUMNS), rows.executions)
                cur.executemany(
                    _insert("execution_order_events", EVENT_COLUMNS),
                    [
                        (
                            i["id"],
                            i["execution_id"],
                            i["decision_id"],
                            s.order_feed_topic,
                            i["partition"],
                            i["offset"],
                            utc_ms(i["event"].at_ms),
                            i["symbol"],
                            i["event"].event_type,
                            i["event"].status,
                            i["event"].qty,
                            i["event"].filled_qty,
                            i["event"].avg_fill_price,
                            utc_ms(i["event"].at_ms),
                        )
                        for i in rows.events
                    ],
                )
            if rows.tca:
                cur.executemany(_insert("execution_tca_metrics", TCA_COLUMNS), rows.tca)
            cursor_at = utc_ms(upper_ms)
            cur.execute(
                "UPDATE trade_cursor SET cursor_at = %s, updated_at = now() "
                "WHERE source = %s AND account_label = %s",
                (cursor_at, s.signal_source, s.account_label),
            )
            if cur.rowcount == 0:
                cur.execute(
                    "INSERT INTO trade_cursor (source, account_label, cursor_at) VALUES (%s, %s, %s)",
                    (s.signal_source, s.account_label, cursor_at),
                )
            counts = {
                table: int(cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
                for table in (*PROGRESS_COUNTS, "llm_decision_reviews")
            }
            upsert_progress(
                self.conn,
                s.run_id,
                "torghut",
                "completed" if completed else "running",
                last_signal_ts=utc_ms(self.last_signal_ms) if self.last_signal_ms else None,
                cursor_at=cursor_at,
                **{k: counts[k] for k in PROGRESS_COUNTS},
                payload_json={
                    "llm_decision_reviews": counts["llm_decision_reviews"],
                    "signals_read": self.signals_read,
                    "positions": dict(sorted(self.strategy.positions.items())),
                    "strategy_id": self.strategy.config.strategy_id,
                },
            )
        self.cursor_ms = upper_ms
        self.completed = completed
