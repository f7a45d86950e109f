"""What the local Kubernetes API is given: the admin's token and kubeconfig, the namespaces and CRDs."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import yaml

from torghut_sim.devstack.errors import DevstackError

ADMIN_USER = "devstack-admin"


def token_file_line(token: str) -> str:
    """One line of kube-apiserver's static token file: the admin, in group system:masters."""
    return f"{token},{ADMIN_USER},{ADMIN_USER},system:masters\n"


def render_kubeconfig(server: str, ca_pem: bytes, token: str) -> dict[str, Any]:
    """A kubeconfig for the admin token against this server, trusting its serving certificate."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "devstack",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode("ascii"),
                },
            }
        ],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{"name": "devstack", "context": {"cluster": "devstack", "user": ADMIN_USER}}],
        "current-context": "devstack",
    }


def crd_documents(crd_dir: Path) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions checked in under `devstack/kube/crds/`, in file-name order."""
    docs: list[dict[str, Any]] = []
    for path in sorted(crd_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                if doc.get("kind") != "CustomResourceDefinition":
                    raise DevstackError("kube_bad_crd", f"{path} holds a {doc.get('kind')}, not a CRD")
                docs.append(doc)
    return docs


def ensure_namespace(api: Any, name: str) -> bool:
    """Create a namespace unless it exists; True when it was created."""
    from kubernetes import client  # noqa: PLC0415

    core = client.CoreV1Api(api)
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except client.ApiException as exc:
        if exc.status == 409:
            return False
        raise
    return True


def apply_crd(api: Any, doc: dict[str, Any]) -> str:
    """Create a CRD, or replace it when it exists (so edits to the checked-in file take effect)."""
    from kubernetes import client  # noqa: PLC0415

    extensions = client.ApiextensionsV1Api(api)
    name: str = doc["metadata"]["name"]
    try:
        extensions.create_custom_resource_definition(doc)
    except client.ApiException as exc:
        if exc.status != 409:
            raise
        current = extensions.read_custom_resource_definition(name)
        body = {**doc, "metadata": {**doc["metadata"], "resourceVersion": current.metadata.resource_version}}
        extensions.replace_custom_resource_definition(name, body)
    return name


def wait_crd_established(extensions: Any, name: str, timeout: float) -> None:
    """Poll a CRD until its Established condition is True."""
    deadline = time.monotonic() + timeout
    while True:
        crd = extensions.read_custom_resource_definition(name)
        conditions = (crd.status.conditions if crd.status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        if time.monotonic() >= deadline:
            raise DevstackError("crd_not_established", f"CRD {name} not Established after {timeout:.0f}s")
        time.sleep(0.2)
