"""The TA (Flink technical-analysis) side of a run: its ConfigMap keys and the FlinkDeployment restart.

The run points TA at the run's simulation topics, consumer group and ClickHouse database, then restarts the
job: `spec.job.state` suspended → running with `spec.restartNonce` + 1 and a stateless upgrade (no state
carried over from the previous window).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.fields import Captured
from torghut_sim.runtime.inputs import InvalidRuntimeInputError
from torghut_sim.runtime.kube_client import Kube
from torghut_sim.runtime.model import ObjectCapture
from torghut_sim.runtime.patching import DEFAULT_ATTEMPTS, FieldChange, guarded_patch
from torghut_sim.runtime.readiness import Readiness
from torghut_sim.topics import simulation_topic

TA_KEYS: tuple[str, ...] = (
    "TA_TRADES_TOPIC",
    "TA_QUOTES_TOPIC",
    "TA_BARS1M_TOPIC",
    "TA_MICROBARS_TOPIC",
    "TA_SIGNALS_TOPIC",
    "TA_STATUS_TOPIC",
    "TA_GROUP_ID",
    "TA_AUTO_OFFSET_RESET",
    "TA_CLICKHOUSE_URL",
)
_TOPIC_KEYS: dict[str, str] = {
    "TA_TRADES_TOPIC": "trades",
    "TA_QUOTES_TOPIC": "quotes",
    "TA_BARS1M_TOPIC": "bars",
    "TA_MICROBARS_TOPIC": "ta_microbars",
    "TA_SIGNALS_TOPIC": "ta_signals",
    "TA_STATUS_TOPIC": "ta_status",
}
OFFSET_RESETS = ("earliest", "latest")
JOB_STATE = "/spec/job/state"
UPGRADE_MODE = "/spec/job/upgradeMode"
RESTART_NONCE = "/spec/restartNonce"
FLINK_FIELDS: tuple[str, ...] = (JOB_STATE, UPGRADE_MODE, RESTART_NONCE)


def configmap_pointer(key: str) -> str:
    """The pointer of one ConfigMap data key."""
    return jsonpointer.join("data", key)


def clickhouse_jdbc_url(http_url: str, database: str) -> str:
    """`jdbc:clickhouse://host:port/<database>` from the ClickHouse HTTP URL."""
    parts = urlsplit(http_url)
    if not parts.hostname:
        raise InvalidRuntimeInputError(f"ClickHouse URL {http_url!r} has no host")
    port = parts.port or (8443 if parts.scheme == "https" else 8123)
    return f"jdbc:clickhouse://{parts.hostname}:{port}/{database}"


def ta_config_values(
    run_token: str, clickhouse_http_url: str, simulation_database: str, auto_offset_reset: str = "earliest"
) -> dict[str, str]:
    """Every TA ConfigMap key a run sets: run topics, consumer group, offset reset, sim database."""
    if auto_offset_reset not in OFFSET_RESETS:
        raise InvalidRuntimeInputError(f"auto_offset_reset must be one of {OFFSET_RESETS}")
    values = {key: simulation_topic(role, run_token) for key, role in _TOPIC_KEYS.items()}
    values["TA_GROUP_ID"] = f"torghut-ta-sim-{run_token}"
    values["TA_AUTO_OFFSET_RESET"] = auto_offset_reset
    values["TA_CLICKHOUSE_URL"] = clickhouse_jdbc_url(clickhouse_http_url, simulation_database)
    return values


def configmap_targets(values: dict[str, str]) -> dict[str, Captured]:
    """The ConfigMap fields a run sets, by pointer."""
    return {configmap_pointer(k): Captured.of(v) for k, v in values.items()}


def apply_configmap(
    kube: Kube, capture: ObjectCapture, values: dict[str, str], attempts: int = DEFAULT_ATTEMPTS
) -> None:
    """Set the TA keys, only from their captured values (or the values already set by this run)."""
    changes = [
        FieldChange(p, target, accepted=(capture.fields[p],))
        for p, target in configmap_targets(values).items()
    ]
    guarded_patch(kube, capture.ref, changes, attempts)


def restarted_nonce(capture: ObjectCapture) -> int:
    """The restart nonce a run sets: the captured one + 1 (1 when there was none)."""
    before = capture.fields[RESTART_NONCE]
    return (int(before.value) + 1) if before.present and before.value is not None else 1


def restart_flink(kube: Kube, capture: ObjectCapture, attempts: int = DEFAULT_ATTEMPTS) -> int:
    """Suspend, then run the job with nonce + 1 and a stateless upgrade; returns the nonce set."""
    nonce = restarted_nonce(capture)
    state_before = capture.fields[JOB_STATE]
    mode_before = capture.fields[UPGRADE_MODE]
    nonce_before = capture.fields[RESTART_NONCE]
    running, suspended = Captured.of("running"), Captured.of("suspended")
    guarded_patch(
        kube,
        capture.ref,
        [
            FieldChange(JOB_STATE, suspended, accepted=(state_before, running)),
            FieldChange(UPGRADE_MODE, Captured.of("stateless"), accepted=(mode_before,)),
        ],
        attempts,
    )
    guarded_patch(
        kube,
        capture.ref,
        [
            FieldChange(JOB_STATE, running, accepted=(suspended,)),
            FieldChange(RESTART_NONCE, Captured.of(nonce), accepted=(nonce_before,)),
        ],
        attempts,
    )
    return nonce


def flink_targets(capture: ObjectCapture) -> dict[str, Captured]:
    """The FlinkDeployment fields as a run leaves them once restarted."""
    return {
        JOB_STATE: Captured.of("running"),
        UPGRADE_MODE: Captured.of("stateless"),
        RESTART_NONCE: Captured.of(restarted_nonce(capture)),
    }


def _reconciled(status: dict[str, Any], generation: Any, expected_nonce: int) -> bool:
    # Either marker proves the status describes the restarted spec, not the job from before the run.
    observed = status.get("observedGeneration")
    if observed is not None and generation is not None and int(observed) >= int(generation):
        return True
    last_spec = (status.get("reconciliationStatus") or {}).get("lastReconciledSpec")
    if isinstance(last_spec, str) and last_spec:
        try:
            spec = json.loads(last_spec)
        except ValueError:
            return False
        job = spec.get("job") or {}
        return bool(spec.get("restartNonce") == expected_nonce and job.get("state") == "running")
    return False


def flink_readiness(obj: dict[str, Any] | None, expected_nonce: int) -> Readiness:
    """Healthy when the job reports RUNNING for the spec the run wrote (not a status left from before)."""
    if obj is None:
        return Readiness.not_ready("FlinkDeployment does not exist")
    spec_nonce = jsonpointer.read(obj, RESTART_NONCE)
    if not spec_nonce.same_as(Captured.of(expected_nonce)):
        return Readiness.not_ready(f"spec.restartNonce is {spec_nonce.describe()}, not {expected_nonce}")
    status = obj.get("status") or {}
    generation = obj.get("metadata", {}).get("generation")
    observed = status.get("observedGeneration")
    if not _reconciled(status, generation, expected_nonce):
        return Readiness.not_ready(
            f"the operator has not reconciled the restart yet (status.observedGeneration {observed}, "
            f"generation {generation})"
        )
    state = (status.get("jobStatus") or {}).get("state")
    if state != "RUNNING":
        return Readiness.not_ready(f"status.jobStatus.state is {state!r}, not 'RUNNING'")
    return Readiness.ok(
        {"job_state": state, "restart_nonce": expected_nonce, "observed_generation": observed}
    )
