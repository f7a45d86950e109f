"""Render deploy/k8s into a list of Kubernetes objects, optionally for other namespace names.

`kubectl apply -k deploy/k8s` is the normal install. This renderer produces the same objects (including the
ConfigMap the kustomization generates from dagster-instance.yaml) for clusters where the runtime or Argo CD
namespaces are named differently, and for the tests, which install the RBAC into throwaway namespaces:

    python deploy/k8s/render.py --pipeline-namespace sim --runtime-namespace rt --argocd-namespace ar

Only namespace fields are rewritten (object namespaces, RoleBinding subjects, the admission policy's
ServiceAccount and namespace selector, the run launcher's job_namespace and the runtime namespace setting);
object names and resourceNames are never touched.

With `--lanes-file` (the file `TORGHUT_SIM_RUNTIME_LANES_FILE` names), each runtime lane also gets the
runtime-control Role and RoleBinding in its namespace, naming that lane's objects, and a binding of the
lock-create admission policy to that namespace.
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEPLOY_DIR = Path(__file__).resolve().parent
INSTANCE_FILE = "dagster-instance.yaml"
PIPELINE_ENV_CONFIGMAP = "torghut-sim-pipeline-env"
RUNTIME_NAMESPACE_KEY = "TORGHUT_SIM_RUNTIME_NAMESPACE"
RUNTIME_ROLE = "torghut-sim-runtime-control"
# The runtime objects the Role names, by the lane field that renames them.
LANE_OBJECT_FIELDS = {
    "torghut-ta-sim-config": "ta_configmap",
    "torghut-ta-sim": "ta_deployment",
    "torghut-sim": "torghut_service",
}
SERVICE_ACCOUNT = "torghut-sim-pipeline"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
CLUSTER_SCOPED_RENAMED = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")


@dataclass(frozen=True)
class Namespaces:
    """The three namespaces the deployment spans."""

    pipeline: str = "torghut-sim"
    runtime: str = "torghut"
    argocd: str = "argocd"


DEFAULT_NAMESPACES = Namespaces()


def _documents(path: Path) -> list[dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc:
            raise ValueError(f"{path} holds a document that is not a Kubernetes object")
    return docs


def kustomization(directory: Path = DEPLOY_DIR) -> dict[str, Any]:
    """The parsed kustomization.yaml."""
    doc: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return doc


def instance_config(directory: Path = DEPLOY_DIR) -> dict[str, Any]:
    """The Dagster instance config (dagster.yaml) of the deployment."""
    doc: dict[str, Any] = yaml.safe_load((directory / INSTANCE_FILE).read_text())
    return doc


def _generated_configmaps(kust: dict[str, Any], directory: Path) -> list[dict[str, Any]]:
    """The ConfigMaps of the kustomization's configMapGenerator (files only, no name hash)."""
    out: list[dict[str, Any]] = []
    for gen in kust.get("configMapGenerator") or []:
        data: dict[str, str] = {}
        for entry in gen.get("files") or []:
            key, _, file_name = str(entry).partition("=")
            data[key if file_name else Path(key).name] = (directory / (file_name or key)).read_text()
        meta: dict[str, Any] = {"name": gen["name"]}
        if gen.get("namespace"):
            meta["namespace"] = gen["namespace"]
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    return out


def base_objects(directory: Path = DEPLOY_DIR) -> list[dict[str, Any]]:
    """Every object `kubectl apply -k` would create, with the default namespaces, in apply order."""
    kust = kustomization(directory)
    objects: list[dict[str, Any]] = []
    for name in kust.get("resources") or []:
        objects.extend(_documents(directory / name))
    return objects + _generated_configmaps(kust, directory)


def _renamed(name: str, mapping: dict[str, str]) -> str:
    return mapping.get(name, name)


def _relocate(
    obj: dict[str, Any], ns: Namespaces, mapping: dict[str, str], cluster_suffix: str
) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    kind = out["kind"]
    if "namespace" in meta:
        meta["namespace"] = _renamed(meta["namespace"], mapping)
    if kind == "Namespace":
        meta["name"] = _renamed(meta["name"], mapping)
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        for subject in out.get("subjects") or []:
            if "namespace" in subject:
                subject["namespace"] = _renamed(subject["namespace"], mapping)
    elif kind == "ValidatingAdmissionPolicy":
        meta["name"] += cluster_suffix
        old_user = f"system:serviceaccount:{DEFAULT_NAMESPACES.pipeline}:{SERVICE_ACCOUNT}"
        new_user = f"system:serviceaccount:{ns.pipeline}:{SERVICE_ACCOUNT}"
        for condition in out["spec"].get("matchConditions") or []:
            condition["expression"] = condition["expression"].replace(f"'{old_user}'", f"'{new_user}'")
    elif kind == "ValidatingAdmissionPolicyBinding":
        meta["name"] += cluster_suffix
        out["spec"]["policyName"] += cluster_suffix
        labels = out["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
        labels[NAMESPACE_LABEL] = _renamed(labels[NAMESPACE_LABEL], mapping)
    elif kind == "ConfigMap" and meta.get("name") == PIPELINE_ENV_CONFIGMAP:
        data = out.setdefault("data", {})
        data[RUNTIME_NAMESPACE_KEY] = _renamed(data[RUNTIME_NAMESPACE_KEY], mapping)
    elif kind == "ConfigMap" and "dagster.yaml" in (out.get("data") or {}):
        instance = yaml.safe_load(out["data"]["dagster.yaml"])
        launcher = instance["run_launcher"]["config"]
        job_namespace = _renamed(launcher["job_namespace"], mapping)
        if job_namespace != launcher["job_namespace"]:
            launcher["job_namespace"] = job_namespace
            out["data"]["dagster.yaml"] = yaml.safe_dump(instance, sort_keys=False)
    return out


def render(
    namespaces: Namespaces = DEFAULT_NAMESPACES, cluster_suffix: str = "", directory: Path = DEPLOY_DIR
) -> list[dict[str, Any]]:
    """The deployment's objects for these namespaces; cluster-scoped policy names get `cluster_suffix`."""
    mapping = {
        DEFAULT_NAMESPACES.pipeline: namespaces.pipeline,
        DEFAULT_NAMESPACES.runtime: namespaces.runtime,
        DEFAULT_NAMESPACES.argocd: namespaces.argocd,
    }
    return [_relocate(obj, namespaces, mapping, cluster_suffix) for obj in base_objects(directory)]


def lane_objects(
    lane: dict[str, Any],
    namespaces: Namespaces = DEFAULT_NAMESPACES,
    cluster_suffix: str = "",
    directory: Path = DEPLOY_DIR,
) -> list[dict[str, Any]]:
    """The runtime-control Role, its RoleBinding and a lock-policy binding for one lane of a lanes file."""
    base = render(namespaces, cluster_suffix, directory)
    mapping = {namespaces.runtime: lane["namespace"]}
    suffix = f"-{lane['name']}"
    out: list[dict[str, Any]] = []
    for obj in base:
        meta = obj["metadata"]
        if obj["kind"] in ("Role", "RoleBinding") and meta["name"] == RUNTIME_ROLE:
            moved = _relocate(obj, namespaces, mapping, "")
            moved["metadata"]["name"] += suffix
            if obj["kind"] == "RoleBinding":
                moved["roleRef"]["name"] += suffix
            for rule in moved.get("rules") or []:
                names = rule.get("resourceNames")
                if names:
                    rule["resourceNames"] = [lane.get(LANE_OBJECT_FIELDS.get(n, ""), n) for n in names]
            out.append(moved)
        elif obj["kind"] == "ValidatingAdmissionPolicyBinding":
            moved = copy.deepcopy(obj)
            moved["metadata"]["name"] += suffix
            labels = moved["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
            labels[NAMESPACE_LABEL] = lane["namespace"]
            out.append(moved)
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the rendered objects as one multi-document YAML stream."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pipeline-namespace", default=DEFAULT_NAMESPACES.pipeline)
    parser.add_argument("--runtime-namespace", default=DEFAULT_NAMESPACES.runtime)
    parser.add_argument("--argocd-namespace", default=DEFAULT_NAMESPACES.argocd)
    parser.add_argument("--lanes-file", type=Path, help="also render the RBAC of every runtime lane")
    args = parser.parse_args(argv)
    namespaces = Namespaces(args.pipeline_namespace, args.runtime_namespace, args.argocd_namespace)
    objects = render(namespaces)
    if args.lanes_file:
        for lane in yaml.safe_load(args.lanes_file.read_text(encoding="utf-8"))["lanes"]:
            objects.extend(lane_objects(lane, namespaces))
    sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
