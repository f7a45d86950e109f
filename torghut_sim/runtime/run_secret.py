"""The run's Secret: the simulation database DSN, handed to the runtime by reference, never in its spec.

The runtime container reads `DB_DSN` through `valueFrom.secretKeyRef`, so the password lives only in this
Secret (never in the Knative Service, its revisions or etcd's copy of them). One fixed name per runtime
namespace, because the run lock allows one simulation at a time there and RBAC can then name exactly this
Secret; the run writes it before patching the runtime and deletes it at teardown (its name is in
state.json, so a crash cleanup deletes it too). The pipeline never reads it back.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from torghut_sim.runtime.kube_client import SECRET, AlreadyExistsError, Kube, ObjectRef

RUN_SECRET_NAME = "torghut-sim-runtime-db"
# The runtime env keys whose values go into the Secret (the DSN carries the password).
SECRET_ENV_KEYS: tuple[str, ...] = ("DB_DSN",)
SECRET_LABELS = {"app.kubernetes.io/managed-by": "torghut-sim", "torghut-sim/role": "run-secret"}


def secret_ref(namespace: str, name: str) -> ObjectRef:
    """The run Secret in a runtime namespace."""
    return ObjectRef(SECRET, namespace, name)


def secret_values(env: Mapping[str, str]) -> dict[str, str]:
    """The env values that are passed by reference."""
    return {k: env[k] for k in SECRET_ENV_KEYS if k in env}


def write_run_secret(kube: Kube, namespace: str, name: str, values: Mapping[str, str], run_id: str) -> None:
    """Create the Secret with `values` (or replace the data of one a crashed run left behind)."""
    data = {k: base64.b64encode(v.encode("utf-8")).decode("ascii") for k, v in values.items()}
    meta = {"labels": SECRET_LABELS, "annotations": {"torghut-sim/run-id": run_id}}
    try:
        kube.create(secret_ref(namespace, name), {"metadata": meta, "type": "Opaque", "data": data})
    except AlreadyExistsError:
        # `data: null` first drops keys an older run wrote; then exactly this run's keys are set.
        kube.merge_patch(secret_ref(namespace, name), {"metadata": meta, "data": None})
        kube.merge_patch(secret_ref(namespace, name), {"data": data})


def delete_run_secret(kube: Kube, namespace: str, name: str) -> bool:
    """Delete the run Secret; False when it was already gone."""
    return kube.delete(secret_ref(namespace, name))
