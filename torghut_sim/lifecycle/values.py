"""The values a day's simulation derives from its manifest and clients: targets, patches, watched stores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torghut_sim.manifest import DatasetManifest
from torghut_sim.naming import RunNames
from torghut_sim.run_clients import Connections
from torghut_sim.run_plan import runtime_env
from torghut_sim.runtime.controller import RuntimeController
from torghut_sim.runtime.inputs import RuntimeTargets, SimulationValues
from torghut_sim.runtime.knative import effective_env
from torghut_sim.runtime.kube_client import KNATIVE_SERVICE, ObjectRef
from torghut_sim.runtime.ta import ta_config_values
from torghut_sim.stores import contamination
from torghut_sim.stores.postgres_provision import DEFAULT_ACCOUNT_LABEL, CursorSeed

# The production database names the contamination check watches.
PRODUCTION_CLICKHOUSE_DATABASE = "torghut"


def runtime_targets(manifest: DatasetManifest) -> RuntimeTargets:
    """The cluster objects of the manifest's runtime and its Argo CD handling."""
    rt, argo = manifest.runtime, manifest.argocd
    return RuntimeTargets(
        namespace=rt.namespace,
        ta_configmap=rt.ta_configmap,
        ta_deployment=rt.ta_deployment,
        torghut_service=rt.torghut_service,
        manage_argocd=argo.manage_automation,
        applicationset_name=argo.applicationset_name,
        applicationset_namespace=argo.applicationset_namespace,
        app_name=argo.app_name,
        desired_mode_during_run=argo.desired_mode_during_run,
        restore_mode_after_run=argo.restore_mode_after_run,
        argocd_verify_timeout_seconds=argo.verify_timeout_seconds,
    )


def simulation_values(manifest: DatasetManifest, names: RunNames, conns: Connections) -> SimulationValues:
    """The TA ConfigMap keys and runtime env the run sets (validated paper-only)."""
    return SimulationValues(
        ta_config=ta_config_values(
            names.run_token,
            manifest.clickhouse.http_url,
            conns.clickhouse_database,
            manifest.replay.auto_offset_reset,
        ),
        torghut_env=runtime_env(manifest, names, conns.postgres_runtime_dsn.reveal()),
    )


def cursor_seed(env_list: Sequence[Mapping[str, Any]]) -> CursorSeed:
    """The cursor row the runtime reads: keyed by the account label its run env trades under."""
    label = effective_env(env_list).get("TRADING_ACCOUNT_LABEL")
    # A label from `valueFrom` cannot be read here; the runtime's default is the best guess left.
    return CursorSeed(account_label=label or DEFAULT_ACCOUNT_LABEL)


def runtime_env_before(controller: RuntimeController) -> list[dict[str, Any]]:
    """The runtime container's env as it is now, before this run patches it (empty when unreadable)."""
    targets = controller.targets
    obj = controller.kube.get(ObjectRef(KNATIVE_SERVICE, targets.namespace, targets.torghut_service)) or {}
    containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [{}]
    env = containers[0].get("env") or []
    return [dict(entry) for entry in env if isinstance(entry, dict)]


def production_targets(conns: Connections, postgres_database: str | None) -> contamination.ProductionTargets:
    """The production side the contamination check snapshots before and after the run."""
    return contamination.ProductionTargets(
        clickhouse=conns.clickhouse,
        clickhouse_database=PRODUCTION_CLICKHOUSE_DATABASE,
        postgres_dsn=conns.production_postgres_dsn(postgres_database).reveal() if postgres_database else None,
        kafka_config=conns.source_kafka.client_config(),
    )
