"""The reference runtime's controller: polls the runtime namespace's Knative Service, FlinkDeployment and TA
ConfigMap, runs the TA and Torghut parts they describe, and writes their `status` as the operators would.

- Knative `Service/torghut-sim`: a simulation env (TRADING_SIMULATION_ENABLED=true) that passes the
  paper-only guard starts the Torghut part; the new revision becomes Ready once it runs. A refused env
  is Ready=False with the refusal's reason and nothing runs. The baseline env stops it and is Ready.
- `FlinkDeployment/torghut-ta-sim`: SUSPENDED while suspended; each (re)start takes a snapshot of the
  TA ConfigMap, goes CREATED then RUNNING; the TA part consumes only while the job runs and the Knative
  env runs a paper simulation.
A heartbeat file records every cycle, for `devstack status`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from torghut_sim.atomic_file import write_text_atomic
from torghut_sim.devstack.refruntime.metrics import RuntimeMetrics
from torghut_sim.devstack.refruntime.settings import (
    LocalEndpoints,
    RuntimeConfigError,
    TaSettings,
    TorghutSettings,
    container_env,
    simulation_enabled,
)
from torghut_sim.devstack.refruntime.status import (
    Verdict,
    flink_spec_key,
    flink_status,
    generation,
    knative_status,
    knative_status_changed,
)
from torghut_sim.devstack.refruntime.ta_worker import RunLink, TaWorker
from torghut_sim.devstack.refruntime.torghut import TorghutWorker
from torghut_sim.runtime_metrics.discovery import METRICS_URL_ANNOTATION

KNATIVE = ("serving.knative.dev", "v1", "services")
FLINK = ("flink.apache.org", "v1beta1", "flinkdeployments")


@dataclass(frozen=True)
class ObjectNames:
    """The runtime objects the controller watches in its namespace."""

    service: str = "torghut-sim"
    flink: str = "torghut-ta-sim"
    configmap: str = "torghut-ta-sim-config"


def now_iso() -> str:
    """The current time as Kubernetes writes it."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def fingerprint(value: Any) -> str:
    """A stable hash of a JSON-able value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flink_essence(status: dict[str, Any]) -> tuple[Any, ...]:
    job = status.get("jobStatus") or {}
    spec = (status.get("reconciliationStatus") or {}).get("lastReconciledSpec")
    return (
        status.get("observedGeneration"),
        status.get("lifecycleState"),
        job.get("state"),
        status.get("error"),
        spec,
    )


class Controller:
    """One reconcile loop over one namespace; the TA and Torghut parts run as worker threads."""

    def __init__(
        self,
        namespace: str,
        endpoints: LocalEndpoints,
        log: logging.Logger,
        *,
        names: ObjectNames | None = None,
        heartbeat: Path | None = None,
        poll_seconds: float = 1.0,
        idle_seconds: float = 3.0,
        stable_seconds: float = 3.0,
        api_client: Any = None,
        metrics: RuntimeMetrics | None = None,
        metrics_url: str | None = None,
    ) -> None:
        from kubernetes import client as kube_client  # noqa: PLC0415 - pure users of this package skip it
        from kubernetes import config as kube_config  # noqa: PLC0415

        self.namespace = namespace
        self.endpoints = endpoints
        self.log = log
        self.names = names or ObjectNames()
        self.heartbeat = heartbeat
        self.poll_seconds = poll_seconds
        self.idle_seconds = idle_seconds
        self.stable_seconds = stable_seconds
        api = api_client or kube_config.new_client_from_config(config_file=endpoints.kubeconfig)
        self.custom = kube_client.CustomObjectsApi(api)
        self.core = kube_client.CoreV1Api(api)
        self.api_exception = kube_client.ApiException
        self.torghut: TorghutWorker | None = None
        self.torghut_key: str | None = None
        self.ta: TaWorker | None = None
        self.ta_key: str | None = None
        self.flink_key: tuple[int, Any, str] | None = None
        self.flink_phase = "UNKNOWN"
        self.ta_settings: TaSettings | None = None
        self.ta_error: str | None = None
        self.cycles = 0
        self.last_error: str | None = None
        self.stop_event = threading.Event()
        # One registry for the process: it outlives every simulation run's worker.
        self.metrics = metrics or RuntimeMetrics()
        self.metrics_url = metrics_url

    # --- Kubernetes access ----------------------------------------------------------------------------

    def _get_custom(self, kind: tuple[str, str, str], name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
                *kind[:2], self.namespace, kind[2], name
            )
        except self.api_exception as exc:
            if exc.status == 404:
                return None
            raise
        return obj

    def _configmap(self) -> dict[str, str] | None:
        try:
            cm = self.core.read_namespaced_config_map(self.names.configmap, self.namespace)
        except self.api_exception as exc:
            if exc.status == 404:
                return None
            raise
        return dict(cm.data or {})

    def _secret_value(self, name: str, key: str) -> str | None:
        """One key of a Secret in this namespace, decoded (what the kubelet puts into the pod's env)."""
        try:
            secret = self.core.read_namespaced_secret(name, self.namespace)
        except self.api_exception as exc:
            if exc.status == 404:
                return None
            raise
        encoded = (secret.data or {}).get(key)
        return base64.b64decode(encoded).decode("utf-8") if encoded is not None else None

    def _write_status(self, kind: tuple[str, str, str], name: str, status: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object_status(
            *kind[:2], self.namespace, kind[2], name, {"status": status}
        )

    # --- the Torghut part -----------------------------------------------------------------------------

    def _torghut_verdict(self, env: dict[str, str]) -> tuple[Verdict, TorghutSettings | None]:
        """What the runtime makes of the Knative env, and the settings to run when it is a simulation."""
        if not simulation_enabled(env):
            return Verdict("True"), None
        try:
            settings = TorghutSettings.from_env(env)
        except RuntimeConfigError as exc:
            return Verdict("False", exc.reason, exc.message), None
        return Verdict("Unknown", "deploying", "the simulation runtime is starting"), settings

    def _reconcile_torghut(self, settings: TorghutSettings | None, env: dict[str, str]) -> Verdict | None:
        """Run the worker the settings call for; its readiness when one runs."""
        key = fingerprint(env) if settings is not None else None
        if key != self.torghut_key:
            if self.torghut is not None:
                self.log.info("torghut: stopping the simulation runtime")
                self.torghut.stop()
                self.torghut = None
            if settings is not None:
                self.log.info("torghut: starting run %s", settings.run_id)
                self.torghut = TorghutWorker(
                    settings, self.endpoints, self.log, self.stable_seconds, metrics=self.metrics
                )
                self.torghut.start()
            self.torghut_key = key
        worker = self.torghut
        if worker is None:
            return None
        if worker.ready.is_set():
            return Verdict("True")
        if worker.last_error:
            return Verdict("False", "runtime_unavailable", worker.last_error)
        return Verdict("Unknown", "deploying", "the simulation runtime is connecting")

    # --- the TA part ----------------------------------------------------------------------------------

    def _reconcile_flink(self, obj: dict[str, Any], cm: dict[str, str] | None, run: RunLink | None) -> None:
        key = flink_spec_key(obj)
        status = dict(obj.get("status") or {})
        job_state = (status.get("jobStatus") or {}).get("state")
        if (
            self.flink_key is None
            and key[2] != "suspended"
            and job_state == "RUNNING"
            and (status.get("observedGeneration") == generation(obj))
        ):
            # A restarted controller adopts the running job instead of restarting it.
            self.flink_key, self.flink_phase = key, "RUNNING"
            self._snapshot_ta(cm)
        if key[2] == "suspended":
            self.flink_key, self.flink_phase = key, "SUSPENDED"
        elif key != self.flink_key:
            self.flink_key, self.flink_phase = key, "CREATED"
            self._snapshot_ta(cm)
            self._stop_ta()
        elif self.flink_phase == "CREATED":
            self.flink_phase = "RUNNING" if self.ta_settings is not None else "FAILED"
        desired = flink_status(
            obj,
            self.flink_phase,
            now_iso(),
            self.ta_error
            if self.flink_phase == "FAILED"
            else (self.ta.last_error if self.ta is not None else None),
        )
        if _flink_essence(status) != _flink_essence(desired):
            self._write_status(FLINK, self.names.flink, desired)
            self.log.info("flink: %s is %s", self.names.flink, self.flink_phase)
        want_ta = self.flink_phase == "RUNNING" and self.ta_settings is not None and run is not None
        self._reconcile_ta(run if want_ta else None)

    def _snapshot_ta(self, cm: dict[str, str] | None) -> None:
        """The job reads its ConfigMap when it starts, as the Flink pods would."""
        if cm is None:
            self.ta_settings = None
            self.ta_error = f"[ta_configmap_missing] ConfigMap {self.names.configmap} does not exist"
            return
        try:
            self.ta_settings, self.ta_error = TaSettings.from_configmap(cm), None
        except RuntimeConfigError as exc:
            self.ta_settings, self.ta_error = None, str(exc)
            self.log.warning("flink: refusing the TA configuration: %s", exc)

    def _stop_ta(self) -> None:
        if self.ta is not None:
            self.log.info("ta: stopping")
            self.ta.stop()
            self.ta, self.ta_key = None, None

    def _reconcile_ta(self, run: RunLink | None) -> None:
        if run is None or self.ta_settings is None:
            self._stop_ta()
            return
        key = fingerprint([self.flink_key, self.ta_settings, run.run_id, fingerprint(run.db_dsn)])
        if key != self.ta_key:
            self._stop_ta()
            self.log.info("ta: starting for run %s", run.run_id)
            self.ta = TaWorker(self.ta_settings, self.endpoints, run, self.log, self.idle_seconds)
            self.ta.start()
            self.ta_key = key

    # --- the loop -------------------------------------------------------------------------------------

    def reconcile_once(self) -> None:
        """One pass over the three objects."""
        service = self._get_custom(KNATIVE, self.names.service)
        flink = self._get_custom(FLINK, self.names.flink)
        cm = self._configmap()
        env = container_env(service, self._secret_value) if service is not None else {}
        verdict, settings = self._torghut_verdict(env)
        running = self._reconcile_torghut(settings, env)
        if running is not None:
            verdict = running
        if service is not None:
            announced = {METRICS_URL_ANNOTATION: self.metrics_url} if self.metrics_url else None
            desired = knative_status(service, verdict, now_iso(), announced)
            if knative_status_changed(service, desired):
                self._write_status(KNATIVE, self.names.service, desired)
                self.log.info(
                    "knative: %s revision %s Ready=%s%s",
                    self.names.service,
                    desired["latestCreatedRevisionName"],
                    verdict.status,
                    f" ({verdict.reason})" if verdict.reason else "",
                )
        if flink is not None:
            run = RunLink(settings.db_dsn, settings.run_id) if settings is not None else None
            self._reconcile_flink(flink, cm, run)
        else:
            self._reconcile_ta(None)

    def snapshot(self) -> dict[str, Any]:
        """What the heartbeat file shows (no secrets)."""
        ta = self.ta
        torghut = self.torghut
        return {
            "pid": os.getpid(),
            "at": now_iso(),
            "namespace": self.namespace,
            "cycles": self.cycles,
            "last_error": self.last_error,
            "flink_phase": self.flink_phase,
            "metrics_url": self.metrics_url,
            "ta_error": self.ta_error,
            "ta": None
            if ta is None
            else {
                "ready": ta.ready.is_set(),
                "records": ta.records,
                "rows_written": ta.rows_written,
                "late": ta.engine.stats.late,
                "malformed": ta.engine.stats.malformed,
                "last_error": ta.last_error,
            },
            "torghut": None
            if torghut is None
            else {
                "ready": torghut.ready.is_set(),
                "run_id": torghut.settings.run_id,
                "cursor_ms": torghut.cursor_ms,
                "completed": torghut.completed,
                "signals_read": torghut.signals_read,
                "last_error": torghut.last_error,
            },
        }

    def _beat(self) -> None:
        if self.heartbeat is None:
            return
        write_text_atomic(self.heartbeat, json.dumps(self.snapshot(), sort_keys=True))

    def run(self) -> None:
        """Reconcile until stopped; a failing pass is logged and retried on the next tick."""
        self.log.info("controller: watching namespace %s", self.namespace)
        while not self.stop_event.is_set():
            began = time.monotonic()
            try:
                self.reconcile_once()
                self.last_error = None
            # The controller must outlive any API or worker failure: log, keep the heartbeat, retry.
            except Exception as exc:  # noqa: BLE001
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                self.log.warning("controller: reconcile failed: %s", self.last_error)
            self.cycles += 1
            try:
                self._beat()
            except OSError as exc:
                self.log.warning("controller: heartbeat not written: %s", exc)
            self.stop_event.wait(max(0.05, self.poll_seconds - (time.monotonic() - began)))
        self.shutdown()

    def shutdown(self) -> None:
        """Stop both parts."""
        if self.torghut is not None:
            self.torghut.stop()
            self.torghut = None
        self._stop_ta()
        self.log.info("controller: stopped")
