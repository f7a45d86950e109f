"""Loading the upstream GitOps objects (ApplicationSet, Knative Service, FlinkDeployment, ConfigMap) into a
Kubernetes API server, unchanged except for an optional namespace override."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.devstack.config import REPO_ROOT
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.kube_objects import ensure_namespace

DEFAULT_GITOPS_DIR = (
    Path(os.environ.get("TORGHUT_UPSTREAM_FIXTURES", str(REPO_ROOT.parent / "shared" / "upstream-fixtures")))
    / "gitops"
)


def read_objects(directory: Path = DEFAULT_GITOPS_DIR) -> list[dict[str, Any]]:
    """Every Kubernetes object in the directory's *.yaml files, in file-name order."""
    if not directory.is_dir():
        raise DevstackError("fixtures_missing", f"no upstream GitOps fixtures at {directory}")
    objects: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                raise DevstackError(
                    "fixture_not_an_object", f"{path} holds a document without apiVersion/kind"
                )
            objects.append(doc)
    return objects


def with_namespace(obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    """A copy of the object, moved to `namespace` when one is given."""
    moved = copy.deepcopy(obj)
    if namespace is not None:
        moved.setdefault("metadata", {})["namespace"] = namespace
    return moved


def create_or_replace(dynamic: Any, obj: dict[str, Any]) -> dict[str, Any]:
    """Create the object, or replace it at its current resourceVersion; returns the stored object."""
    from kubernetes.client import ApiException  # noqa: PLC0415 - callers without kube do not pay for it

    resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    namespace = obj["metadata"].get("namespace")
    try:
        stored = resource.create(body=obj, namespace=namespace)
    except ApiException as exc:
        if exc.status != 409:
            raise
        current = resource.get(name=obj["metadata"]["name"], namespace=namespace)
        body = copy.deepcopy(obj)
        body["metadata"]["resourceVersion"] = current.metadata.resourceVersion
        stored = resource.replace(body=body, namespace=namespace)
    result: dict[str, Any] = stored.to_dict()
    return result


def create_if_absent(dynamic: Any, obj: dict[str, Any]) -> bool:
    """Create the object unless one of that name exists (which is left untouched); True when created."""
    from kubernetes.client import ApiException  # noqa: PLC0415 - callers without kube do not pay for it

    resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    try:
        resource.create(body=obj, namespace=obj["metadata"].get("namespace"))
    except ApiException as exc:
        if exc.status != 409:
            raise
        return False
    return True


def load_fixtures(
    api_client: Any,
    namespace: str | None = None,
    directory: Path = DEFAULT_GITOPS_DIR,
    replace: bool = True,
) -> list[dict[str, Any]]:
    """Create every upstream object into `namespace` (or its own), creating namespaces.

    With `replace` an existing object is replaced by the fixture; without it, an existing object is kept
    as it is (a baseline must not overwrite a runtime that a simulation holds patched).
    """
    from kubernetes.dynamic import DynamicClient  # noqa: PLC0415

    dynamic = DynamicClient(api_client)
    stored: list[dict[str, Any]] = []
    seen_namespaces: set[str] = set()
    for obj in read_objects(directory):
        target = with_namespace(obj, namespace)
        ns = target["metadata"].get("namespace")
        if ns and ns not in seen_namespaces:
            ensure_namespace(api_client, ns)
            seen_namespaces.add(ns)
        if replace:
            stored.append(create_or_replace(dynamic, target))
        elif create_if_absent(dynamic, target):
            stored.append(target)
    return stored
