"""The Torghut runtime side of a run: the simulation env of the Knative Service's first container.

The whole env list of the container is replaced (captured entries kept in order, simulation keys replaced in
place or appended), so no stale `valueFrom` survives beside a simulation value. Whatever is set, the result
is refused unless it is paper trading through the simulation adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torghut_sim.errors import TorghutSimError
from torghut_sim.guards.runtime import ALLOWED_ENV_OVERRIDES, PAPER_ONLY_ENV
from torghut_sim.runtime import jsonpointer
from torghut_sim.runtime.fields import Captured, sha256_json
from torghut_sim.runtime.kube_client import KNATIVE_REVISION, Kube, ObjectRef
from torghut_sim.runtime.model import ObjectCapture
from torghut_sim.runtime.patching import DEFAULT_ATTEMPTS, FieldChange, guarded_patch
from torghut_sim.runtime.readiness import Readiness
from torghut_sim.runtime.run_secret import SECRET_ENV_KEYS
from torghut_sim.topics import simulation_topic

CONTAINER = "/spec/template/spec/containers/0"
ENV_POINTER = f"{CONTAINER}/env"
CONTAINER_NAME_POINTER = f"{CONTAINER}/name"
# Values every simulation sets, whatever the overrides say: paper trading through the simulation adapter.
FIXED_ENV: dict[str, str] = {**PAPER_ONLY_ENV, "TRADING_ENABLED": "true"}
ALLOWED_OVERRIDES: frozenset[str] = ALLOWED_ENV_OVERRIDES
REQUIRED_RUN_KEYS: tuple[str, ...] = (
    "DB_DSN",
    "TRADING_SIGNAL_TABLE",
    "TRADING_PRICE_TABLE",
    "TRADING_SIMULATION_RUN_ID",
    "TRADING_SIMULATION_DATASET_ID",
    "TRADING_SIMULATION_WINDOW_START",
    "TRADING_SIMULATION_WINDOW_END",
    "TRADING_ORDER_FEED_TOPIC",
    "TRADING_ORDER_FEED_GROUP_ID",
)


class UnsafeEnvError(TorghutSimError):
    """The runtime env would not be a paper simulation."""

    reason = "unsafe_runtime_env"


class OverrideNotAllowedError(TorghutSimError):
    """An env override names a key outside the allow-list."""

    reason = "env_override_not_allowed"


class ContainerEnvError(TorghutSimError):
    """The Knative Service's first container has no usable env list."""

    reason = "knative_container_invalid"


@dataclass(frozen=True)
class SimulationEnvInputs:
    """The run facts the runtime env is made of."""

    run_id: str
    run_token: str
    dataset_id: str
    db_dsn: str
    simulation_database: str
    window_start: str
    window_end: str
    overrides: Mapping[str, str]


def simulation_env(inputs: SimulationEnvInputs) -> dict[str, str]:
    """The env a run sets on the runtime: fixed paper settings, run-scoped targets, allow-listed overrides."""
    refused = sorted(set(inputs.overrides) - ALLOWED_OVERRIDES)
    if refused:
        raise OverrideNotAllowedError(
            f"env override keys {', '.join(refused)} are not allowed "
            f"(allowed: {', '.join(sorted(ALLOWED_OVERRIDES))})"
        )
    env: dict[str, str] = dict(FIXED_ENV)
    env.update(
        {
            "DB_DSN": inputs.db_dsn,
            "TRADING_SIGNAL_TABLE": f"{inputs.simulation_database}.ta_signals",
            "TRADING_PRICE_TABLE": f"{inputs.simulation_database}.ta_microbars",
            "TRADING_SIMULATION_RUN_ID": inputs.run_id,
            "TRADING_SIMULATION_DATASET_ID": inputs.dataset_id,
            "TRADING_SIMULATION_WINDOW_START": inputs.window_start,
            "TRADING_SIMULATION_WINDOW_END": inputs.window_end,
            "TRADING_ORDER_FEED_TOPIC": simulation_topic("order_updates", inputs.run_token),
            "TRADING_ORDER_FEED_GROUP_ID": f"torghut-order-feed-sim-{inputs.run_token}",
        }
    )
    env.update({k: str(v) for k, v in inputs.overrides.items()})
    check_paper_env(env)
    return env


def check_paper_env(env: Mapping[str, str]) -> None:
    """Refuse an env that is not paper simulation or lacks a run-scoped key."""
    wrong = [f"{k}={env.get(k)!r} (must be {v!r})" for k, v in FIXED_ENV.items() if env.get(k) != v]
    if wrong:
        raise UnsafeEnvError(f"runtime env would not be a paper simulation: {', '.join(wrong)}")
    missing = [k for k in REQUIRED_RUN_KEYS if not env.get(k)]
    if missing:
        raise UnsafeEnvError(f"runtime env lacks run-scoped keys: {', '.join(missing)}")


def merged_env_list(
    baseline: Sequence[Mapping[str, Any]], env: Mapping[str, str], secret_name: str | None = None
) -> list[dict[str, Any]]:
    """The container's whole env list for the run: baseline order kept, run keys replaced or appended.

    With `secret_name`, the keys that carry secrets (the DSN) are `valueFrom.secretKeyRef`s to that Secret
    instead of literal values, so the Service spec never holds the password.
    """
    out: list[dict[str, Any]] = []
    placed: set[str] = set()
    for entry in baseline:
        name = str(entry.get("name", ""))
        if name in env:
            # A duplicate would make the effective value depend on ordering; keep only the first slot.
            if name not in placed:
                out.append({"name": name, "value": env[name]})
                placed.add(name)
        else:
            out.append(dict(entry))
    out.extend({"name": k, "value": v} for k, v in env.items() if k not in placed)
    effective = effective_env(out)
    check_paper_env({k: v for k, v in effective.items() if isinstance(v, str)})
    if secret_name is None:
        return out
    return [
        {"name": e["name"], "valueFrom": {"secretKeyRef": {"name": secret_name, "key": e["name"]}}}
        if e.get("name") in SECRET_ENV_KEYS and e.get("name") in env
        else e
        for e in out
    ]


def effective_env(env_list: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Name → literal value as the container sees it (last entry wins; `valueFrom` entries are None)."""
    out: dict[str, str | None] = {}
    for entry in env_list:
        value = entry.get("value")
        out[str(entry.get("name", ""))] = (
            value if isinstance(value, str) and "valueFrom" not in entry else None
        )
    return out


def baseline_env(capture: ObjectCapture) -> list[dict[str, Any]]:
    """The captured env list (empty when the container had none)."""
    before = capture.fields[ENV_POINTER]
    if before.present and not isinstance(before.value, list):
        raise ContainerEnvError(f"{capture.ref.describe()} first container env is not a list")
    return list(before.value) if before.present else []


def desired_env_list(
    capture: ObjectCapture, env: Mapping[str, str], secret_name: str | None = None
) -> list[dict[str, Any]]:
    """The env list a run writes, computed from the captured baseline."""
    return merged_env_list(baseline_env(capture), env, secret_name)


def env_fingerprint(env_list: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of an env list (recorded instead of values that include the simulation DSN)."""
    return sha256_json(list(env_list))


def apply_env(
    kube: Kube,
    capture: ObjectCapture,
    env: Mapping[str, str],
    attempts: int = DEFAULT_ATTEMPTS,
    secret_name: str | None = None,
) -> list[dict[str, Any]]:
    """Replace the first container's env with the run env, only from the captured list; returns it."""
    desired = desired_env_list(capture, env, secret_name)
    guards = [FieldChange(p, g) for p, g in capture.guards.items()]
    change = FieldChange(ENV_POINTER, Captured.of(desired), accepted=(capture.fields[ENV_POINTER],))
    guarded_patch(kube, capture.ref, [*guards, change], attempts)
    return desired


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


def revision_env(kube: Kube, namespace: str, revision: str) -> list[dict[str, Any]] | None:
    """The first container env of a Knative Revision, when Revisions are served (None otherwise)."""
    obj = kube.get(ObjectRef(KNATIVE_REVISION, namespace, revision))
    if obj is None:
        return None
    value = jsonpointer.read(obj, "/spec/containers/0/env")
    return list(value.value) if value.present and isinstance(value.value, list) else []


def service_readiness(
    obj: dict[str, Any] | None,
    desired: Sequence[Mapping[str, Any]],
    revision_env_list: list[dict[str, Any]] | None = None,
) -> Readiness:
    """Ready when Ready=True for this generation, the latest revision is ready, and its env is the run env."""
    if obj is None:
        return Readiness.not_ready("Knative Service does not exist")
    spec_env = jsonpointer.read(obj, ENV_POINTER)
    if not spec_env.same_as(Captured.of(list(desired))):
        return Readiness.not_ready("the Service spec env is not the run env (reverted or changed)")
    status = obj.get("status") or {}
    reasons: list[str] = []
    generation = obj.get("metadata", {}).get("generation")
    observed = status.get("observedGeneration")
    if observed is None or generation is None or int(observed) < int(generation):
        reasons.append(f"status.observedGeneration {observed} has not reached generation {generation}")
    ready = _condition(status, "Ready")
    if ready is None or ready.get("status") != "True":
        why = f" ({ready.get('reason')}: {ready.get('message')})" if ready else ""
        reasons.append(f"Ready condition is {ready.get('status') if ready else 'missing'}{why}")
    latest_ready = status.get("latestReadyRevisionName")
    latest_created = status.get("latestCreatedRevisionName")
    if not latest_created or latest_ready != latest_created:
        reasons.append(
            f"latestReadyRevisionName {latest_ready!r} != latestCreatedRevisionName {latest_created!r}"
        )
    if revision_env_list is not None and sha256_json(revision_env_list) != sha256_json(list(desired)):
        reasons.append(f"revision {latest_ready} runs an env other than the run env")
    if reasons:
        return Readiness.not_ready(*reasons)
    return Readiness.ok({"revision": latest_ready, "observed_generation": observed})


def live_service_readiness(
    kube: Kube, capture: ObjectCapture, desired: Sequence[Mapping[str, Any]]
) -> Readiness:
    """Readiness of the live Service, checking the ready revision's own env when Revisions are served."""
    obj = kube.get(capture.ref)
    revision = ((obj or {}).get("status") or {}).get("latestReadyRevisionName")
    rev_env = revision_env(kube, capture.namespace, str(revision)) if revision else None
    return service_readiness(obj, desired, rev_env)
