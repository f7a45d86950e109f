"""The `status` the real Knative and Flink operators would write, computed purely from an object.

Knative: every new `metadata.generation` gets a new revision name (`<service>-00001`, …) as
latestCreatedRevisionName with Ready=Unknown; once the runtime runs that configuration, Ready=True and
latestReadyRevisionName catches up; a refused configuration is Ready=False with a reason.
Flink: SUSPENDED while `spec.job.state` is suspended; after a (re)start of the spec (generation or
restartNonce) CREATED/DEPLOYED first, then RUNNING/STABLE with the reconciled spec recorded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_REVISION_SUFFIX = re.compile(r"-(\d{5})$")
KNATIVE_CONDITIONS = ("ConfigurationsReady", "Ready", "RoutesReady")


@dataclass(frozen=True)
class Verdict:
    """The runtime's answer for the current configuration: `True`, `False` (refused) or `Unknown`."""

    status: str
    reason: str | None = None
    message: str | None = None


def generation(obj: Mapping[str, Any]) -> int:
    """`metadata.generation` (1 when absent)."""
    return int((obj.get("metadata") or {}).get("generation") or 1)


def _status(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict(obj.get("status") or {})


def condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The condition of a type, if present."""
    for cond in status.get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def revision_number(name: str | None) -> int:
    """The counter of a `<service>-NNNNN` revision name (0 when none)."""
    match = _REVISION_SUFFIX.search(name or "")
    return int(match.group(1)) if match else 0


def knative_needs_revision(obj: Mapping[str, Any]) -> bool:
    """True when the spec generation has no revision yet."""
    observed = _status(obj).get("observedGeneration")
    return observed is None or int(observed) != generation(obj)


def _conditions(verdict: Verdict, now: str, previous: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for kind in KNATIVE_CONDITIONS:
        old = condition(previous, kind) or {}
        cond: dict[str, Any] = {"type": kind, "status": verdict.status}
        if kind == "RoutesReady" and verdict.status != "Unknown":
            # Traffic keeps flowing to the last ready revision even when the new one is refused.
            cond["status"] = "True"
        if cond["status"] != "True" and verdict.reason:
            cond["reason"] = verdict.reason
            cond["message"] = verdict.message or verdict.reason
        same = old.get("status") == cond["status"] and old.get("reason") == cond.get("reason")
        cond["lastTransitionTime"] = old.get("lastTransitionTime", now) if same else now
        out.append(cond)
    return out


def knative_status(
    obj: Mapping[str, Any], verdict: Verdict, now: str, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The status for the object's current generation given the runtime's verdict on it.

    `annotations` go to `status.annotations` (Knative's place for extra status, e.g. the metrics URL).
    """
    previous = _status(obj)
    name = (obj.get("metadata") or {}).get("name", "service")
    namespace = (obj.get("metadata") or {}).get("namespace", "default")
    created = previous.get("latestCreatedRevisionName")
    ready = previous.get("latestReadyRevisionName")
    if knative_needs_revision(obj):
        created = f"{name}-{revision_number(created) + 1:05d}"
    if verdict.status == "True":
        ready = created
    url = f"http://{name}.{namespace}.svc.cluster.local"
    status: dict[str, Any] = {
        "observedGeneration": generation(obj),
        "latestCreatedRevisionName": created,
        "latestReadyRevisionName": ready,
        "url": url,
        "address": {"url": url},
        "conditions": _conditions(verdict, now, previous),
    }
    if annotations:
        status["annotations"] = dict(annotations)
    if ready:
        status["traffic"] = [{"revisionName": ready, "latestRevision": ready == created, "percent": 100}]
    return status


def knative_status_changed(obj: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when writing `new` would change what a reader sees (ignoring transition times)."""

    def essence(status: Mapping[str, Any]) -> Any:
        conds = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"}
            for c in status.get("conditions") or []
            if isinstance(c, Mapping)
        ]
        return {**{k: v for k, v in status.items() if k != "conditions"}, "conditions": conds}

    return bool(essence(_status(obj)) != essence(new))


def flink_spec_key(obj: Mapping[str, Any]) -> tuple[int, Any, str]:
    """What identifies one deployment of the job: generation, restartNonce and desired state."""
    spec = obj.get("spec") or {}
    return generation(obj), spec.get("restartNonce"), str((spec.get("job") or {}).get("state") or "running")


def flink_status(
    obj: Mapping[str, Any], job_state: str, now: str, error: str | None = None
) -> dict[str, Any]:
    """The FlinkDeployment status for a job in `job_state` (CREATED, RUNNING, SUSPENDED, FAILED)."""
    spec = dict(obj.get("spec") or {})
    name = (obj.get("metadata") or {}).get("name", "flink")
    previous = _status(obj)
    lifecycle = {"CREATED": "DEPLOYED", "RUNNING": "STABLE", "SUSPENDED": "SUSPENDED", "FAILED": "FAILED"}
    job: dict[str, Any] = {
        "jobName": name,
        "state": job_state,
        "jobId": hashlib.sha256(f"{name}:{spec.get('restartNonce')}".encode()).hexdigest()[:32],
        "updateTime": now,
    }
    old_job = previous.get("jobStatus") or {}
    job["startTime"] = old_job.get("startTime", now) if old_job.get("state") == job_state else now
    status: dict[str, Any] = {
        "observedGeneration": generation(obj),
        "lifecycleState": lifecycle.get(job_state, "DEPLOYED"),
        "jobManagerDeploymentStatus": "READY" if job_state in {"CREATED", "RUNNING"} else "MISSING",
        "jobStatus": job,
        "reconciliationStatus": {
            "state": "DEPLOYED",
            "lastReconciledSpec": json.dumps(spec, sort_keys=True),
            "reconciliationTimestamp": now,
        },
        "error": error,
    }
    return status
