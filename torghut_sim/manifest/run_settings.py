"""The manifest's run settings: where the runtime lives, replay pacing, monitoring, Argo CD, report costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from torghut_sim.manifest.section import Section


class RuntimeSpec(Section):
    """Where the simulation runtime lives and where artifacts go."""

    target_mode: Literal["dedicated_service"] = "dedicated_service"
    namespace: str = "torghut"
    ta_configmap: str = "torghut-ta-sim-config"
    ta_deployment: str = "torghut-ta-sim"
    torghut_service: str = "torghut-sim"
    output_root: str = "artifacts/torghut/simulations"
    # Where the runtime serves `GET /metrics`; unset → the URL its Knative Service status announces.
    metrics_url: str | None = None


class ReplaySpec(Section):
    """How the dump is produced to the simulation topics."""

    pace_mode: Literal["max_throughput", "event_time", "accelerated"] = "max_throughput"
    acceleration: float = Field(default=60, gt=0)
    max_sleep_seconds: float = Field(default=5, ge=0)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    flush_every_records: int = Field(default=50_000, ge=1)
    flush_timeout_seconds: float = Field(default=60, gt=0)
    final_flush_timeout_seconds: float = Field(default=180, gt=0)
    status_update_every_records: int = Field(default=25_000, ge=1)
    status_update_every_seconds: float = Field(default=30, gt=0)


class MonitorSpec(Section):
    """How long to wait for the runtime and the minimum activity a run must show."""

    timeout_seconds: float = Field(default=14_400, gt=0)
    poll_seconds: float = Field(default=30, gt=0)
    min_trade_decisions: int = Field(default=1, ge=0)
    min_executions: int = Field(default=1, ge=0)
    min_execution_tca_metrics: int = Field(default=1, ge=0)
    min_execution_order_events: int = Field(default=0, ge=0)
    cursor_grace_seconds: float = Field(default=120, ge=0)


class ArgoCDSpec(Section):
    """Argo CD automation of the Torghut app: frozen to manual during a run, restored after."""

    manage_automation: bool = True
    applicationset_name: str = "product"
    applicationset_namespace: str = "argocd"
    app_name: str = "torghut"
    desired_mode_during_run: Literal["manual", "auto"] = "manual"
    restore_mode_after_run: Literal["previous", "manual", "auto"] = "previous"
    verify_timeout_seconds: float = Field(default=600, gt=0)


class ReportingSpec(Section):
    """Cost assumptions of the P&L report, exact decimals."""

    commission_bps: Decimal = Field(default=Decimal(0), ge=0)
    per_trade_fee: Decimal = Field(default=Decimal(0), ge=0)
