"""The reference runtime end to end on the real local stack: a seeded day is replayed into a run's
simulation topics and the controller (its own process, its own namespace) plays the TA job and Torghut.

The test patches the objects by hand as the pipeline would (paper-only env, TA ConfigMap, Flink restart),
watches ClickHouse and Postgres fill, restores the env and sees the runtime stop; a second run of the same
seeded day gives the same rows apart from ids and ingest times.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from torghut_sim.calendar import session_window
from torghut_sim.devstack import clickhouse as ch
from torghut_sim.devstack.kube_fixtures import load_fixtures
from torghut_sim.devstack.market_day import SeedRequest, seed_day
from torghut_sim.devstack.market_walk import DaySpec
from torghut_sim.devstack.production_schema import ensure_production_schema
from torghut_sim.guards.runtime import PAPER_ONLY_ENV
from torghut_sim.manifest.run_settings import MonitorSpec
from torghut_sim.monitor import TA_OUTPUT_ROLES, MonitorTargets, wait_for_window
from torghut_sim.naming import RunNames, names_for_run_id
from torghut_sim.runtime_metrics.deltas import compute_deltas
from torghut_sim.runtime_metrics.discovery import resolve_metrics_url
from torghut_sim.runtime_metrics.probe import fetch_metrics
from torghut_sim.runtime_metrics.prometheus import Scrape, parse_metrics
from torghut_sim.stores.clickhouse_provision import ClickHouseEndpoint, provision_clickhouse
from torghut_sim.stores.postgres_provision import PostgresPlan, provision_postgres

DAY = date(2026, 3, 6)
SPEC = DaySpec(DAY, symbols=("NVDA", "AMD", "MU"), trade_rate=0.25, seed=424242, malformed=4)
KNATIVE = ("serving.knative.dev", "v1", "services", "torghut-sim")
FLINK = ("flink.apache.org", "v1beta1", "flinkdeployments", "torghut-ta-sim")
CONFIGMAP = "torghut-ta-sim-config"
TIMEOUT = 300.0
REPO = Path(__file__).resolve().parents[2]


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT, every: float = 0.5) -> Any:
    """Poll until `check` returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


@dataclass
class Stack:
    """Clients of the local stack for one test."""

    custom: Any
    core: Any
    namespace: str
    bootstrap: str
    pg_admin: str
    clickhouse: Any
    endpoint: ClickHouseEndpoint
    sources: dict[str, str]
    tmp: Path
    baseline_env: list[dict[str, Any]] = field(default_factory=list)
    baseline_revision: str = ""

    def get(self, kind: tuple[str, str, str, str]) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
            kind[0], kind[1], self.namespace, kind[2], kind[3]
        )
        return obj

    def patch(self, kind: tuple[str, str, str, str], body: Any) -> None:
        content = "application/json-patch+json" if isinstance(body, list) else "application/merge-patch+json"
        self.custom.patch_namespaced_custom_object(
            kind[0], kind[1], self.namespace, kind[2], kind[3], body, _content_type=content
        )


@pytest.fixture
def stack(
    kube_service: Any,
    kafka_service: Any,
    clickhouse_service: Any,
    postgres_service: Any,
    unique_name: str,
    tmp_path: Path,
) -> Iterator[Stack]:
    """A namespace with the upstream objects, a seeded day in private source topics, the production schema."""
    from kubernetes import client

    api = kube_service.api_client()
    namespace = unique_name.replace("_", "-")
    load_fixtures(api, namespace)
    sources = {role: f"{unique_name}.src.{role}" for role in ("trades", "quotes", "bars", "status")}
    result = seed_day(SeedRequest(SPEC, kafka_service.bootstrap_servers, tmp_path / "markers", sources))
    assert result.status == "seeded" and result.records > 10_000
    ch_client = clickhouse_service.client()
    ensure_production_schema(ch_client)
    endpoint = ClickHouseEndpoint(clickhouse_service.http_url, ch.USERNAME, ch.PASSWORD)
    yield Stack(
        client.CustomObjectsApi(api),
        client.CoreV1Api(api),
        namespace,
        kafka_service.bootstrap_servers,
        postgres_service.dsn(),
        ch_client,
        endpoint,
        sources,
        tmp_path,
    )
    with contextlib.suppress(Exception):
        client.CoreV1Api(api).delete_namespace(namespace)


@contextlib.contextmanager
def controller(stack: Stack) -> Iterator[Path]:
    """The reference runtime controller as its own process for the test namespace; yields its heartbeat."""
    heartbeat = stack.tmp / "heartbeat.json"
    log = open(stack.tmp / "runtime.log", "ab")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "torghut_sim.devstack.refruntime",
            "--namespace",
            stack.namespace,
            "--heartbeat",
            str(heartbeat),
            "--poll-seconds",
            "0.5",
            "--idle-seconds",
            "2",
            "--stable-seconds",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        yield heartbeat
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def beat(heartbeat: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(heartbeat.read_text())
    except (OSError, ValueError):
        return {}
    return data


def knative_ready(stack: Stack) -> str | None:
    """The ready revision when the Service is Ready for its current generation."""
    obj = stack.get(KNATIVE)
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    if (
        status.get("observedGeneration") == obj["metadata"]["generation"]
        and ready.get("status") == "True"
        and status.get("latestReadyRevisionName") == status.get("latestCreatedRevisionName")
    ):
        return str(status["latestReadyRevisionName"])
    return None


def flink_running(stack: Stack) -> bool:
    obj = stack.get(FLINK)
    status = obj.get("status") or {}
    return bool(
        status.get("observedGeneration") == obj["metadata"]["generation"]
        and (status.get("jobStatus") or {}).get("state") == "RUNNING"
    )


def env_list(stack: Stack) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = stack.get(KNATIVE)["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def set_env(stack: Stack, env: list[dict[str, Any]]) -> None:
    stack.patch(KNATIVE, [{"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": env}])


def simulation_env(baseline: list[dict[str, Any]], names: RunNames, dsn: str) -> list[dict[str, Any]]:
    window = session_window(DAY)
    values = {
        **PAPER_ONLY_ENV,
        "TRADING_ENABLED": "true",
        "DB_DSN": dsn,
        "TRADING_SIGNAL_TABLE": f"{names.simulation_database}.ta_signals",
        "TRADING_PRICE_TABLE": f"{names.simulation_database}.ta_microbars",
        "TRADING_SIMULATION_RUN_ID": names.run_id,
        "TRADING_SIMULATION_DATASET_ID": names.dataset_id,
        "TRADING_SIMULATION_WINDOW_START": window.session_start.isoformat(),
        "TRADING_SIMULATION_WINDOW_END": window.session_end.isoformat(),
        "TRADING_ORDER_FEED_TOPIC": names.topic("order_updates"),
        "TRADING_ORDER_FEED_GROUP_ID": names.order_feed_group_id,
        "TRADING_SIMULATION_FETCH_WINDOW_SECONDS": "900",
    }
    out = [dict(item) for item in baseline if item["name"] not in values]
    return out + [{"name": k, "value": v} for k, v in sorted(values.items())]


def restart_flink(stack: Stack) -> None:
    nonce = int(stack.get(FLINK)["spec"].get("restartNonce") or 0)
    stack.patch(FLINK, {"spec": {"job": {"state": "suspended", "upgradeMode": "stateless"}}})
    stack.patch(FLINK, {"spec": {"job": {"state": "running"}, "restartNonce": nonce + 1}})


def replay(stack: Stack, names: RunNames) -> int:
    """Copy the session's records into the run's simulation topics in timestamp order, as a replay does."""
    window = session_window(DAY)
    low, high = int(window.session_start.timestamp() * 1000), int(window.session_end.timestamp() * 1000)
    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap,
            "group.id": f"replay-{names.run_token}",
            "enable.auto.commit": False,
        }
    )
    producer = Producer({"bootstrap.servers": stack.bootstrap, "linger.ms": 20})
    records: list[tuple[int, int, str, int, bytes, bytes]] = []
    for role, source in stack.sources.items():
        target = names.topic(role)
        meta = consumer.list_topics(source, timeout=10).topics[source]
        for partition in meta.partitions:
            _, end = consumer.get_watermark_offsets(TopicPartition(source, partition), timeout=10)
            consumer.assign([TopicPartition(source, partition, 0)])
            position = 0
            while position < end:
                for msg in consumer.consume(1000, timeout=2):
                    position = msg.offset() + 1
                    ts = msg.timestamp()[1]
                    if low <= ts < high:
                        records.append((ts, len(records), target, partition, msg.key(), msg.value()))
    consumer.close()
    for ts, _, target, partition, key, value in sorted(records):
        producer.produce(target, value, key, partition=partition, timestamp=ts)
        producer.poll(0)
    assert producer.flush(60) == 0
    return len(records)


def provision(stack: Stack, names: RunNames) -> str:
    """The run's ClickHouse and Postgres databases and simulation topics, as the pipeline provisions them."""
    from torghut_sim.devstack.market_day import ensure_topics

    provision_clickhouse([stack.endpoint], names.simulation_database)
    dsn = stack.pg_admin.rsplit("/", 1)[0] + f"/{names.simulation_database}"
    provision_postgres(
        PostgresPlan(
            admin_dsn=stack.pg_admin,
            simulation_dsn=dsn,
            migrations_command=[sys.executable, "-m", "torghut_sim.devstack.migrate"],
            window_start=session_window(DAY).session_start,
            migrations_cwd=REPO,
        )
    )
    ensure_topics(stack.bootstrap, [names.topic(r) for r in ("trades", "quotes", "bars", "status")], 3)
    return dsn


def configure_ta(stack: Stack, names: RunNames) -> None:
    data = {
        "TA_TRADES_TOPIC": names.topic("trades"),
        "TA_QUOTES_TOPIC": names.topic("quotes"),
        "TA_BARS1M_TOPIC": names.topic("bars"),
        "TA_MICROBARS_TOPIC": names.topic("ta_microbars"),
        "TA_SIGNALS_TOPIC": names.topic("ta_signals"),
        "TA_STATUS_TOPIC": names.topic("ta_status"),
        "TA_GROUP_ID": names.ta_group_id,
        "TA_AUTO_OFFSET_RESET": "earliest",
        "TA_CLICKHOUSE_URL": f"jdbc:clickhouse://127.0.0.1:58123/{names.simulation_database}",
    }
    stack.core.patch_namespaced_config_map(CONFIGMAP, stack.namespace, {"data": data})


def pg_rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def progress(dsn: str, run_id: str, component: str) -> dict[str, Any] | None:
    with psycopg.connect(dsn) as conn:
        conn.row_factory = psycopg.rows.dict_row  # type: ignore[assignment]
        row = conn.execute(
            "SELECT * FROM simulation_run_progress WHERE run_id = %s AND component = %s", (run_id, component)
        ).fetchone()
    return dict(row) if row else None  # type: ignore[call-overload]


def run_simulation(stack: Stack, run_id: str, heartbeat: Path) -> tuple[RunNames, str]:
    """Provision, patch, restart, replay and wait until the Torghut part has covered the window."""
    names = names_for_run_id(run_id, f"torghut-trades-{DAY:%Y%m%d}")
    dsn = provision(stack, names)
    configure_ta(stack, names)
    restart_flink(stack)
    set_env(stack, simulation_env(stack.baseline_env, names, dsn))
    revision = wait_for("the simulation revision to be Ready", lambda: knative_ready(stack))
    wait_for("the TA job to run", lambda: flink_running(stack))
    assert revision != stack.baseline_revision
    assert replay(stack, names) > 10_000
    done = wait_for(
        "the Torghut part to complete the window",
        lambda: (p := progress(dsn, run_id, "torghut")) is not None and p["status"] == "completed" and p,
    )
    assert done["cursor_at"] == session_window(DAY).session_end
    return names, dsn


def scrape(stack: Stack) -> Scrape:
    """The runtime's /metrics, found as the pipeline finds it: through the Knative Service status."""
    found = resolve_metrics_url(None, stack.get(KNATIVE))
    assert found is not None and found[1] == "service_status"
    assert found[0].startswith("http://127.0.0.1:")
    return parse_metrics(fetch_metrics(found[0]))


def check_metrics_match_rows(before: Scrape, after: Scrape, dsn: str) -> None:
    """The counters a run moved equal what it wrote to Postgres (decisions, states, reasons, orders)."""
    families = compute_deltas(before, after).families
    assert not compute_deltas(before, after).restarted

    def delta(name: str, label: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for sample in families.get(f"torghut_trading_{name}", ("counter", []))[1]:
            if sample.delta:
                key = dict(sample.labels).get(label, "") if label else ""
                out[key] = out.get(key, 0) + int(sample.delta)
        return out

    states = dict(pg_rows(dsn, "SELECT status, count(*) FROM trade_decisions GROUP BY status"))
    assert delta("decision_state_total", "status") == states
    assert delta("decisions_total") == {"": sum(states.values())}
    assert delta("orders_submitted_total") == {"": pg_rows(dsn, "SELECT count(*) FROM executions")[0][0]}
    assert delta("orders_rejected_total") == {"": states.get("rejected", 0)}
    assert delta("reconcile_updates_total") == {
        "": pg_rows(dsn, "SELECT count(*) FROM execution_order_events")[0][0]
    }
    reasons = dict(
        pg_rows(
            dsn,
            "SELECT r, count(*) FROM trade_decisions, "
            "jsonb_array_elements_text(decision_json->'reject_reason_atomic') r GROUP BY r",
        )
    )
    assert delta("decision_reject_reason_total", "reason") == reasons
    blocks = dict(
        pg_rows(
            dsn,
            "SELECT r, count(*) FROM trade_decisions, "
            "jsonb_array_elements_text(decision_json->'submission_block_atomic') r GROUP BY r",
        )
    )
    assert delta("submission_block_total", "reason") == blocks
    verdicts = dict(pg_rows(dsn, "SELECT verdict, count(*) FROM llm_decision_reviews GROUP BY verdict"))
    for verdict, count in verdicts.items():
        assert delta(f"llm_{verdict}_total") == {"": count}
    assert sum(delta("strategy_intents_total", "strategy_id").values()) == sum(states.values())
    assert sum(delta("feature_quality_rejections_total").values()) > 0


def test_reference_runtime_plays_ta_and_torghut_then_stops(stack: Stack) -> None:
    with controller(stack) as heartbeat:
        # Baseline: the upstream objects become ready as they are, and nothing runs.
        baseline_revision = wait_for("the baseline revision", lambda: knative_ready(stack))
        assert baseline_revision == "torghut-sim-00001"
        wait_for("the baseline TA job", lambda: flink_running(stack))
        stack.baseline_env = env_list(stack)
        stack.baseline_revision = baseline_revision
        # The runtime serves /metrics on loopback from the start, every family present, counters at 0.
        idle = scrape(stack)
        assert idle.value("torghut_process_role_info", role="simulation") == 1
        assert idle.families["torghut_trading_decision_reject_reason_total"].type == "counter"
        assert idle.families["torghut_trading_no_signal_streak"].type == "gauge"
        assert idle.value("torghut_trading_decisions_total") == 0

        # A live env is refused: Ready=False with the guard's reason, nothing starts.
        names_x = names_for_run_id(f"sim-{stack.namespace}-x", "torghut-trades-20260306")
        live = [
            dict(e, value="live") if e["name"] == "TRADING_MODE" else e
            for e in simulation_env(stack.baseline_env, names_x, "postgresql://u:p@127.0.0.1:1/x")
        ]
        set_env(stack, live)
        refused = wait_for(
            "the refusal",
            lambda: next(
                (
                    c
                    for c in (stack.get(KNATIVE).get("status") or {}).get("conditions") or []
                    if c["type"] == "Ready" and c["status"] == "False"
                ),
                None,
            ),
        )
        assert refused["reason"] == "not_paper_only"
        assert beat(heartbeat).get("torghut") is None

        before_a = scrape(stack)
        names, dsn = run_simulation(stack, f"sim-{stack.namespace}-a", heartbeat)
        after_a = scrape(stack)
        check_metrics_match_rows(before_a, after_a, dsn)
        # Rejected and blocked decisions carry why (CONTRACTS §6), so the report's path is exercised.
        refused = dict(
            pg_rows(
                dsn,
                "SELECT decision_json->>'submission_stage', count(*) FROM trade_decisions "
                "WHERE status IN ('rejected', 'blocked') GROUP BY 1",
            )
        )
        assert None not in refused and "rejected_pre_submit" in refused, refused
        counts = {
            t: pg_rows(dsn, f"SELECT count(*) FROM {t}")[0][0]
            for t in (
                "trade_decisions",
                "executions",
                "execution_order_events",
                "execution_tca_metrics",
                "llm_decision_reviews",
            )
        }
        assert all(n > 0 for n in counts.values()), counts
        verdicts = {v for (v,) in pg_rows(dsn, "SELECT DISTINCT verdict FROM llm_decision_reviews")}
        assert {"approve", "veto"} <= verdicts
        run_ids = pg_rows(
            dsn,
            "SELECT DISTINCT decision_json->'params'->'simulation_context'->>"
            "'simulation_run_id' FROM trade_decisions",
        )
        assert run_ids == [(names.run_id,)]
        adapters = pg_rows(
            dsn, "SELECT DISTINCT execution_expected_adapter, execution_actual_adapter FROM executions"
        )
        assert adapters == [("simulation", "simulation")]
        sides = {s for (s,) in pg_rows(dsn, "SELECT DISTINCT side FROM executions")}
        assert sides == {"buy", "sell"}
        # Every order event is a real record of the run's trade-updates topic at the offset it names.
        topics = pg_rows(dsn, "SELECT DISTINCT source_topic FROM execution_order_events")
        assert topics == [(names.topic("order_updates"),)]
        # The TA reports every couple of seconds; its row catches up with what it has seen.
        ta = wait_for(
            "the TA progress row",
            lambda: (
                (p := progress(dsn, names.run_id, "ta")) is not None
                and p["payload_json"]["malformed"] >= 1
                and p
            ),
        )
        # Replayed in time order, only the few clock-skewed records arrive too late for their second.
        assert ta["payload_json"]["late"] < 0.01 * ta["payload_json"]["records"]
        quoted = stack.clickhouse.query(
            "SELECT countIf(imbalance_spread IS NOT NULL) / count() "
            f"FROM `{names.simulation_database}`.ta_signals"
        ).result_rows[0][0]
        assert quoted > 0.5
        bars = stack.clickhouse.query(
            f"SELECT count(), uniqExact(symbol) FROM `{names.simulation_database}`.ta_microbars"
        ).result_rows[0]
        assert bars[0] > 1000 and bars[1] == 3

        # Restore the env: the runtime stops, the baseline configuration is ready again, rows stop.
        set_env(stack, stack.baseline_env)
        wait_for("the restored revision", lambda: knative_ready(stack))
        wait_for(
            "both parts to stop", lambda: (b := beat(heartbeat)) and b["ta"] is None and b["torghut"] is None
        )
        before = stack.clickhouse.query(
            f"SELECT count() FROM `{names.simulation_database}`.ta_microbars"
        ).result_rows[0][0]
        decisions = counts["trade_decisions"]
        replay(stack, names)
        cycles = beat(heartbeat)["cycles"]
        wait_for("ten more controller cycles", lambda: beat(heartbeat).get("cycles", 0) >= cycles + 10)
        assert (
            stack.clickhouse.query(
                f"SELECT count() FROM `{names.simulation_database}`.ta_microbars"
            ).result_rows[0][0]
            == before
        )
        assert pg_rows(dsn, "SELECT count(*) FROM trade_decisions")[0][0] == decisions

        # The same seeded day again, as another run: the same rows, ids and ingest times aside.
        before_b = scrape(stack)
        names_b, dsn_b = run_simulation(stack, f"sim-{stack.namespace}-b", heartbeat)
        # The counters live in the process: they kept run a's figures and added run b's.
        after_b = scrape(stack)
        assert after_b.value("torghut_trading_decisions_total") == 2 * after_a.value(
            "torghut_trading_decisions_total"
        )
        check_metrics_match_rows(before_b, after_b, dsn_b)
        set_env(stack, stack.baseline_env)
    for table, columns in (
        ("ta_microbars", "symbol, event_ts, seq, o, h, l, c, v, vwap, count"),
        (
            "ta_signals",
            "symbol, event_ts, seq, macd, macd_hist, rsi14, boll_upper, "
            "vwap_session, vwap_w5m, imbalance_spread, vol_realized_w60s, "
            "microstructure_signal_v1",
        ),
    ):
        rows = [
            stack.clickhouse.query(
                f"SELECT {columns} FROM `{db}`.{table} FINAL ORDER BY symbol, event_ts"
            ).result_rows
            for db in (names.simulation_database, names_b.simulation_database)
        ]
        assert rows[0] == rows[1] and rows[0]
    query = (
        "SELECT d.symbol, d.status, d.created_at, d.executed_at, d.decision_json->>'action', "
        "d.decision_json->>'qty', r.verdict, r.confidence, e.side, e.submitted_qty, e.filled_qty, "
        "e.avg_fill_price, e.status, t.slippage_bps FROM trade_decisions d "
        "JOIN llm_decision_reviews r ON r.trade_decision_id = d.id "
        "LEFT JOIN executions e ON e.trade_decision_id = d.id "
        "LEFT JOIN execution_tca_metrics t ON t.execution_id = e.id ORDER BY d.created_at, d.symbol"
    )
    first, second = pg_rows(dsn, query), pg_rows(dsn_b, query)
    assert first == second and len(first) == counts["trade_decisions"]


@contextlib.contextmanager
def cpu_load(cores: int = 2, seconds: float = 1200.0) -> Iterator[None]:
    """A bounded busy loop on each core, as a loaded machine would have, stopped on the way out."""
    loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(cores)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


def monitor_targets(stack: Stack, names: RunNames, dsn: str) -> MonitorTargets:
    """Where the pipeline's monitor reads each stage of this run."""
    return MonitorTargets(
        simulation_dsn=dsn,
        kafka_config={"bootstrap.servers": stack.bootstrap},
        clickhouse=stack.endpoint,
        clickhouse_database=names.simulation_database,
        ta_group=names.ta_group_id,
        replayed_topics={role: names.topic(role) for role in ("trades", "quotes", "bars", "status")},
        ta_output_topics={role: names.topic(role) for role in TA_OUTPUT_ROLES},
        order_feed_group=names.order_feed_group_id,
        order_feed_topic=names.topic("order_updates"),
    )


def test_the_same_day_under_cpu_load_gives_the_same_figures_and_the_monitor_sees_every_stage_done(
    stack: Stack,
) -> None:
    spec = MonitorSpec(timeout_seconds=TIMEOUT, poll_seconds=1, cursor_grace_seconds=0)
    figures: list[dict[str, int]] = []
    with cpu_load(), controller(stack) as heartbeat:
        stack.baseline_revision = wait_for("the baseline revision", lambda: knative_ready(stack))
        wait_for("the baseline TA job", lambda: flink_running(stack))
        stack.baseline_env = env_list(stack)
        for suffix in ("l1", "l2"):
            names, dsn = run_simulation(stack, f"sim-{stack.namespace}-{suffix}", heartbeat)
            result = wait_for_window(
                monitor_targets(stack, names, dsn), session_window(DAY).session_end, spec
            )
            assert result.complete, result.as_dict()
            assert result.stages["ta_input"].reached["remaining"] == 0
            signals = result.stages["ta_output"].reached["ta_signals"]
            assert signals["clickhouse_rows"] >= signals["topic_records"] > 1000
            figures.append({**result.progress.counts, "ta_signals": signals["clickhouse_rows"]})
        set_env(stack, stack.baseline_env)
    assert figures[0]["trade_decisions"] > 0 and figures[0]["executions"] > 0
    assert figures[0] == figures[1]
