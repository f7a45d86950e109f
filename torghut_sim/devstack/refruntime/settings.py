"""What the reference runtime is told: local endpoints from the devstack, names from the Kubernetes objects.

Endpoints (Kafka bootstrap, ClickHouse HTTP, kubeconfig) are the local stack's, never the production
hosts in the Knative env; the names (databases, tables, topics, groups, run id, window) come from the
Knative env and the TA ConfigMap exactly as production reads them. Parsing refuses anything that would
write outside a simulation (production database or topic, non-paper env) with a stable reason code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from torghut_sim.errors import TorghutSimError
from torghut_sim.guards import GuardRefusalError
from torghut_sim.guards.names import check_simulation_database, check_simulation_topic
from torghut_sim.guards.runtime import check_paper_env
from torghut_sim.stores.postgres_provision import DEFAULT_ACCOUNT_LABEL

_JDBC = re.compile(r"^jdbc:clickhouse://[^/]+(?::\d+)?/(?P<db>[A-Za-z0-9_]+)")


class RuntimeConfigError(TorghutSimError):
    """The Kubernetes objects describe a configuration the reference runtime refuses to run."""

    reason = "runtime_config_invalid"


@dataclass(frozen=True)
class LocalEndpoints:
    """How the reference runtime reaches the local stack."""

    bootstrap_servers: str
    clickhouse_host: str
    clickhouse_port: int
    clickhouse_username: str
    clickhouse_password: str = field(repr=False)
    kubeconfig: str

    @classmethod
    def from_stack(cls) -> LocalEndpoints:
        """The endpoints of the local stack's configuration (ports, state dir) and credentials."""
        from torghut_sim.devstack import clickhouse  # noqa: PLC0415 - keeps pure imports light
        from torghut_sim.devstack.config import StackConfig  # noqa: PLC0415

        config = StackConfig()
        return cls(
            bootstrap_servers=f"{config.host}:{config.ports.kafka}",
            clickhouse_host=config.host,
            clickhouse_port=config.ports.clickhouse,
            clickhouse_username=clickhouse.USERNAME,
            clickhouse_password=clickhouse.PASSWORD,
            kubeconfig=os.environ.get("KUBECONFIG") or str(config.state_dir / "kube" / "kubeconfig"),
        )

    def clickhouse_client(self) -> Any:
        """A ClickHouse HTTP client of the stack (no session id: each worker's queries stand alone)."""
        import clickhouse_connect  # noqa: PLC0415 - keeps pure imports light

        return clickhouse_connect.get_client(
            host=self.clickhouse_host,
            port=self.clickhouse_port,
            username=self.clickhouse_username,
            password=self.clickhouse_password,
            autogenerate_session_id=False,
        )


# Reads one key of a Secret in the service's namespace: (secret name, key) → value, None when absent.
SecretLookup = Callable[[str, str], str | None]


def container_env(service: Mapping[str, Any], secrets: SecretLookup | None = None) -> dict[str, str]:
    """The env of the first container of a Knative Service, as a pod would see it.

    Literal values, and `valueFrom.secretKeyRef` resolved through `secrets` (the kubelet's job); other
    `valueFrom` entries and a reference that does not resolve are left out, as a pod would not start.
    """
    containers = (((service.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    if not containers:
        return {}
    env: dict[str, str] = {}
    for item in containers[0].get("env") or []:
        if not isinstance(item, Mapping) or "name" not in item:
            continue
        name = str(item["name"])
        if item.get("value") is not None:
            env[name] = str(item["value"])
            continue
        source = item.get("valueFrom")
        ref = source.get("secretKeyRef") if isinstance(source, Mapping) else None
        value = None
        if secrets is not None and isinstance(ref, Mapping) and ref.get("name") and ref.get("key"):
            value = secrets(str(ref["name"]), str(ref["key"]))
        if value is not None:
            env[name] = value
        else:
            # The later entry wins in a pod: an unresolved one hides any earlier literal value.
            env.pop(name, None)
    return env


def simulation_enabled(env: Mapping[str, str]) -> bool:
    """True when the env asks the runtime to run a simulation."""
    return env.get("TRADING_SIMULATION_ENABLED", "").strip().lower() == "true"


def _iso(value: str, key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RuntimeConfigError(
            f"{key}={value!r} is not an ISO-8601 time", reason="invalid_window"
        ) from None
    if moment.tzinfo is None:
        raise RuntimeConfigError(f"{key}={value!r} has no time zone", reason="invalid_window")
    return moment


def _table(value: str, key: str) -> tuple[str, str]:
    database, _, table = value.partition(".")
    if not database or not table:
        raise RuntimeConfigError(f"{key}={value!r} is not <database>.<table>", reason="invalid_table")
    try:
        check_simulation_database(database)
    except GuardRefusalError as exc:
        raise RuntimeConfigError(f"{key}: {exc.message}", reason=exc.reason) from None
    return database, table


def _required(env: Mapping[str, str], keys: Sequence[str]) -> None:
    missing = [k for k in keys if not env.get(k)]
    if missing:
        raise RuntimeConfigError(
            f"the simulation env lacks {', '.join(missing)}", reason="simulation_env_incomplete"
        )


@dataclass(frozen=True)
class TorghutSettings:
    """The Torghut part's configuration, from a Knative env that asks for a simulation."""

    db_dsn: str = field(repr=False)
    signal_table: tuple[str, str]
    price_table: tuple[str, str]
    run_id: str
    dataset_id: str
    window_start: datetime
    window_end: datetime
    order_feed_topic: str
    account_label: str
    signal_source: str
    fetch_window_seconds: float
    allow_shorts: bool
    model: str
    prompt_version: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TorghutSettings:
        """Validate a simulation env: paper-only, simulation tables and topic, a window."""
        try:
            check_paper_env(env)
        except GuardRefusalError as exc:
            raise RuntimeConfigError(exc.message, reason=exc.reason) from None
        _required(
            env,
            (
                "DB_DSN",
                "TRADING_SIGNAL_TABLE",
                "TRADING_PRICE_TABLE",
                "TRADING_SIMULATION_RUN_ID",
                "TRADING_SIMULATION_WINDOW_START",
                "TRADING_SIMULATION_WINDOW_END",
                "TRADING_ORDER_FEED_TOPIC",
            ),
        )
        if "$(" in env["DB_DSN"]:
            raise RuntimeConfigError("DB_DSN still references secret variables", reason="db_dsn_unresolved")
        topic = env["TRADING_ORDER_FEED_TOPIC"]
        try:
            check_simulation_topic(topic)
        except GuardRefusalError as exc:
            raise RuntimeConfigError(f"TRADING_ORDER_FEED_TOPIC: {exc.message}", reason=exc.reason) from None
        start = _iso(env["TRADING_SIMULATION_WINDOW_START"], "TRADING_SIMULATION_WINDOW_START")
        end = _iso(env["TRADING_SIMULATION_WINDOW_END"], "TRADING_SIMULATION_WINDOW_END")
        if end <= start:
            raise RuntimeConfigError("the simulation window ends before it starts", reason="invalid_window")
        try:
            fetch = float(env.get("TRADING_SIMULATION_FETCH_WINDOW_SECONDS") or 60)
        except ValueError:
            fetch = 60.0
        return cls(
            db_dsn=env["DB_DSN"],
            signal_table=_table(env["TRADING_SIGNAL_TABLE"], "TRADING_SIGNAL_TABLE"),
            price_table=_table(env["TRADING_PRICE_TABLE"], "TRADING_PRICE_TABLE"),
            run_id=env["TRADING_SIMULATION_RUN_ID"],
            dataset_id=env.get("TRADING_SIMULATION_DATASET_ID", ""),
            window_start=start,
            window_end=end,
            order_feed_topic=topic,
            account_label=env.get("TRADING_ACCOUNT_LABEL") or DEFAULT_ACCOUNT_LABEL,
            signal_source=env.get("TRADING_SIGNAL_SOURCE") or "clickhouse",
            fetch_window_seconds=max(1.0, fetch),
            allow_shorts=env.get("TRADING_ALLOW_SHORTS", "true").lower() != "false",
            model=env.get("LLM_MODEL") or "gpt-5.6-sol",
            prompt_version=(env.get("LLM_ALLOWED_PROMPT_VERSIONS") or "v1").split(",")[0],
        )


def _int(data: Mapping[str, str], key: str, default: int) -> int:
    try:
        return int(data.get(key) or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class TaSettings:
    """The TA part's configuration, from the TA ConfigMap as the job saw it when (re)started."""

    trades_topic: str
    quotes_topic: str
    microbars_topic: str | None
    signals_topic: str | None
    status_topic: str | None
    group_id: str
    auto_offset_reset: str
    database: str
    max_out_of_order_ms: int
    quote_stale_ms: int
    vwap_window_s: int
    vol_window_s: int

    @classmethod
    def from_configmap(cls, data: Mapping[str, str]) -> TaSettings:
        """Validate the ConfigMap: input topics and group present, a simulation ClickHouse database."""
        _required(data, ("TA_TRADES_TOPIC", "TA_QUOTES_TOPIC", "TA_GROUP_ID", "TA_CLICKHOUSE_URL"))
        match = _JDBC.match(data["TA_CLICKHOUSE_URL"])
        if match is None:
            raise RuntimeConfigError(
                f"TA_CLICKHOUSE_URL {data['TA_CLICKHOUSE_URL']!r} names no database", reason="invalid_table"
            )
        database = match.group("db")
        try:
            check_simulation_database(database)
        except GuardRefusalError as exc:
            raise RuntimeConfigError(f"TA_CLICKHOUSE_URL: {exc.message}", reason=exc.reason) from None

        def output(key: str) -> str | None:
            topic = data.get(key)
            if not topic:
                return None
            try:
                check_simulation_topic(topic)
            except GuardRefusalError as exc:
                raise RuntimeConfigError(f"{key}: {exc.message}", reason=exc.reason) from None
            return topic

        reset = (data.get("TA_AUTO_OFFSET_RESET") or "latest").lower()
        return cls(
            trades_topic=data["TA_TRADES_TOPIC"],
            quotes_topic=data["TA_QUOTES_TOPIC"],
            microbars_topic=output("TA_MICROBARS_TOPIC"),
            signals_topic=output("TA_SIGNALS_TOPIC"),
            status_topic=output("TA_STATUS_TOPIC"),
            group_id=data["TA_GROUP_ID"],
            auto_offset_reset=reset if reset in {"earliest", "latest"} else "latest",
            database=database,
            max_out_of_order_ms=_int(data, "TA_MAX_OUT_OF_ORDER_MS", 2000),
            quote_stale_ms=_int(data, "TA_QUOTE_STALE_AFTER_MS", 15_000),
            vwap_window_s=_int(data, "TA_VWAP_WINDOW_SECONDS", 300),
            vol_window_s=_int(data, "TA_REALIZED_VOL_WINDOW", 60),
        )
